// drive_storage against the project's Drive double (test/doubles/drive_double.py, run as a child
// process on loopback): uploads, resuming a saved session, listing with short pages, downloads
// and deletes, and the checks that keep a bad file out of the folder.
#include "respaldo/storage/drive/drive_storage.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/client/client.hpp"
#include "support/async_test.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using respaldo::errc;
using respaldo::test::run_with_deadline;

constexpr std::size_t G = respaldo::drive_chunk_granularity;
const std::string folder = "1StorageTestFolder";

// The double as a child process, started once for all the tests of this file.
class double_process {
 public:
  double_process() {
    dir_ =
        (std::filesystem::temp_directory_path() / ("respaldo-drive-" + std::to_string(::getpid())))
            .string();
    std::filesystem::create_directories(dir_);
    const std::string script = std::string(RESPALDO_SOURCE_DIR) + "/test/doubles/drive_double.py";
    int out[2];
    REQUIRE(::pipe(out) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed test run
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      const std::string data = dir_ + "/data";
      ::execlp("python3", "python3", script.c_str(), "--port", "0", "--folder", folder.c_str(),
               "--authorized-user", "cid:csecret:rtoken", "--data-dir", data.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    REQUIRE(line.starts_with("listening "));
    port_ = std::stoi(line.substr(10));
  }
  ~double_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

double_process& the_double() {
  static double_process d;
  return d;
}

std::string bytes_of(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint64_t x = 0x9e3779b97f4a7c15ULL * (seed + 1);
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

struct env {
  asio::io_context io;
  respaldo::http_client client{io.get_executor(), respaldo::http_client_options{}, nullptr};
  std::unique_ptr<respaldo::drive_token_source> tokens;
  std::unique_ptr<respaldo::drive_storage> storage;

  env() {
    const std::string base = the_double().base_url();
    auto creds = respaldo::parse_drive_credentials(
        R"({"type":"authorized_user","client_id":"cid","client_secret":"csecret","refresh_token":"rtoken"})");
    REQUIRE(creds);
    tokens = std::make_unique<respaldo::drive_token_source>(client, *creds, base + "/token", "");
    respaldo::drive_storage_options opts;
    opts.api_url = base;
    opts.retry.base_delay = 20ms;
    opts.retry.max_delay = 100ms;
    auto s = respaldo::drive_storage::create(client, *tokens, opts);
    REQUIRE(s);
    storage = std::move(*s);
    control("DELETE", "/_control/faults", "");
  }

  // A call of the double's control API (no auth); returns the JSON answer.
  json::value control(const std::string& method, const std::string& path, const std::string& body) {
    auto call = [&]() -> asio::awaitable<json::value> {
      auto url = respaldo::parse_http_url(the_double().base_url() + path);
      REQUIRE(url);
      respaldo::http_client_request req;
      req.method = method;
      req.target = url->target;
      req.headers = {{"Content-Type", "application/json"}};
      req.body = body;
      auto c = co_await client.acquire(url->origin);
      REQUIRE(c);
      auto head = co_await (*c)->request(req);
      REQUIRE(head);
      REQUIRE(head->status == 200);
      auto text = co_await (*c)->read_body_all(64 << 20);
      REQUIRE(text);
      co_return json::parse(*text);
    };
    return run_with_deadline(io, call());
  }
  void fault(const std::string& spec) { control("POST", "/_control/faults", spec); }
  std::int64_t stat(const char* name) {
    return control("GET", "/_control/stats", "").as_object().at(name).to_number<std::int64_t>();
  }

  respaldo::upload_request request(const std::string& app, const std::string& data) {
    respaldo::upload_request r;
    r.folder = folder;
    r.app = app;
    r.job_id = "job-" + app;
    r.format = "pgdump";
    r.name = app + "-20261130T030000Z.pgdump";
    r.created_at = std::chrono::sys_seconds(std::chrono::seconds(1'795'000'000));
    r.total_size = data.size();
    r.sha256 = respaldo::sha256_hex(data);
    return r;
  }

  using upload_ptr = std::unique_ptr<respaldo::storage_upload>;

  upload_ptr begin(const respaldo::upload_request& r) {
    auto op = [&]() -> asio::awaitable<respaldo::outcome<upload_ptr>> {
      co_return co_await storage->begin(r);
    };
    auto u = run_with_deadline(io, op(), 20s);
    REQUIRE(u);
    return std::move(*u);
  }
  boost::system::error_code write(respaldo::storage_upload& u, std::string_view piece) {
    auto op = [&]() -> asio::awaitable<boost::system::error_code> {
      auto r = co_await u.write(asio::buffer(piece.data(), piece.size()));
      co_return r ? boost::system::error_code{} : r.error().code;
    };
    return run_with_deadline(io, op(), 20s);
  }
  respaldo::outcome<respaldo::stored_object> finish(respaldo::storage_upload& u,
                                                    std::string_view piece) {
    auto op = [&]() -> asio::awaitable<respaldo::outcome<respaldo::stored_object>> {
      co_return co_await u.finish(asio::buffer(piece.data(), piece.size()));
    };
    return run_with_deadline(io, op(), 20s);
  }
  void abort(respaldo::storage_upload& u) {
    auto op = [&]() -> asio::awaitable<void> { co_await u.abort(); };
    run_with_deadline(io, op(), 20s);
  }
  std::vector<respaldo::stored_object> list(const std::string& app) {
    auto op = [&]() -> asio::awaitable<respaldo::outcome<std::vector<respaldo::stored_object>>> {
      co_return co_await storage->list(folder, app);
    };
    auto r = run_with_deadline(io, op(), 20s);
    REQUIRE(r);
    return *r;
  }
  boost::system::result<std::string> read_back(const std::string& id) {
    auto op = [&]() -> asio::awaitable<boost::system::result<std::string>> {
      auto d = co_await storage->open(id);
      if (!d) co_return d.error().code;
      std::string out;
      std::string buf(100'000, '\0');
      for (;;) {
        auto n = co_await (*d)->read_some(asio::buffer(buf));
        if (!n) co_return n.error().code;
        if (*n == 0) break;
        out.append(buf.data(), *n);
      }
      co_return out;
    };
    return run_with_deadline(io, op(), 20s);
  }
  boost::system::error_code remove(const std::string& id) {
    auto op = [&]() -> asio::awaitable<boost::system::error_code> {
      auto r = co_await storage->remove(id);
      co_return r ? boost::system::error_code{} : r.error().code;
    };
    return run_with_deadline(io, op(), 20s);
  }

  // Uploads `data` in chunks of `chunk` bytes, the way the pipeline does.
  respaldo::stored_object upload(const std::string& app, const std::string& data,
                                 std::size_t chunk) {
    auto u = begin(request(app, data));
    std::size_t at = 0;
    while (data.size() - at > chunk) {
      REQUIRE_FALSE(write(*u, std::string_view(data).substr(at, chunk)));
      at += chunk;
    }
    auto obj = finish(*u, std::string_view(data).substr(at));
    REQUIRE(obj);
    return *obj;
  }
};

}  // namespace

TEST_CASE("drive_storage uploads, lists, downloads and deletes", "[drive_storage]") {
  env e;
  const std::string data = bytes_of(3 * G + 777, 1);
  const auto received = e.stat("bytes_received");
  auto obj = e.upload("store-a", data, 2 * G);
  CHECK(obj.size == data.size());
  CHECK(obj.sha256 == respaldo::sha256_hex(data));
  CHECK(obj.md5 == respaldo::md5_hex(data));
  CHECK(obj.name == "store-a-20261130T030000Z.pgdump");
  CHECK(obj.properties.at("respaldo") == "1");
  CHECK(obj.properties.at("job_id") == "job-store-a");
  CHECK(obj.properties.at("sha256") == respaldo::sha256_hex(data));
  CHECK(respaldo::format_rfc3339_utc(obj.created_at) == "2026-11-18T11:06:40Z");
  CHECK(e.stat("bytes_received") - received == static_cast<std::int64_t>(data.size()));

  auto listed = e.list("store-a");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].location == obj.location);
  CHECK(listed[0].size == data.size());
  CHECK(listed[0].sha256 == obj.sha256);

  auto back = e.read_back(obj.location);
  REQUIRE(back);
  CHECK(*back == data);

  CHECK_FALSE(e.remove(obj.location));
  CHECK_FALSE(e.remove(obj.location));  // already gone: still success
  CHECK(e.list("store-a").empty());
  auto gone = e.read_back(obj.location);
  REQUIRE_FALSE(gone);
  CHECK(gone.error() == errc::not_found);
  CHECK(e.read_back("../etc/passwd").error() == errc::not_found);
}

TEST_CASE("drive_storage lists across short pages and only the app's files", "[drive_storage]") {
  env e;
  for (int i = 0; i < 3; ++i) e.upload("lister", bytes_of(1000 + i, 10 + i), G);
  e.upload("other-app", bytes_of(10, 20), G);
  e.fault(R"({"name":"short_page","count":3,"items":1})");
  auto listed = e.list("lister");
  CHECK(listed.size() == 3);
  for (const auto& f : listed) CHECK(f.properties.at("app") == "lister");
  CHECK(e.list("nobody").empty());
  for (const auto& f : e.list("lister")) CHECK_FALSE(e.remove(f.location));
  for (const auto& f : e.list("other-app")) CHECK_FALSE(e.remove(f.location));
}

TEST_CASE("an upload resumes its saved session without re-sending the prefix", "[drive_storage]") {
  env e;
  const std::string data = bytes_of(6 * G + 100, 2);
  auto req = e.request("resumer", data);
  std::string saved;
  {
    auto u = e.begin(req);
    CHECK(u->committed() == 0);
    REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(0, 2 * G)));
    REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(2 * G, 2 * G)));
    CHECK(u->committed() == 4 * G);
    saved = u->resume_state();
    auto st = respaldo::decode_resume_state(saved);
    REQUIRE(st);
    CHECK(st->offset == 4 * G);
    CHECK(st->total == data.size());
    // The process "dies" here: no finish, no abort.
  }
  const auto received = e.stat("bytes_received");
  const auto sessions = e.stat("sessions_created");

  SECTION("same content: continues from the acknowledged offset") {
    req.resume_state = saved;
    auto u = e.begin(req);
    REQUIRE(u->committed() == 4 * G);
    REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(4 * G, 2 * G)));
    auto obj = e.finish(*u, std::string_view(data).substr(6 * G));
    REQUIRE(obj);
    CHECK(obj->sha256 == respaldo::sha256_hex(data));
    CHECK(e.stat("sessions_created") == sessions);
    CHECK(e.stat("bytes_received") - received == static_cast<std::int64_t>(data.size() - 4 * G));
    auto back = e.read_back(obj->location);
    REQUIRE(back);
    CHECK(*back == data);
    CHECK_FALSE(e.remove(obj->location));
  }
  SECTION("a saved session for other content is not continued") {
    const std::string other = bytes_of(data.size(), 3);
    auto req2 = e.request("resumer", other);
    req2.resume_state = saved;
    const auto cancelled = e.stat("sessions_cancelled");
    auto u = e.begin(req2);
    CHECK(u->committed() == 0);
    CHECK(e.stat("sessions_created") == sessions + 1);
    CHECK(e.stat("sessions_cancelled") == cancelled + 1);  // the stale session is cancelled
    e.abort(*u);
  }
  SECTION("an expired session starts over") {
    e.fault(R"({"name":"expire_session"})");
    req.resume_state = saved;
    auto u = e.begin(req);
    CHECK(u->committed() == 0);
    CHECK(e.stat("sessions_created") == sessions + 1);
    e.abort(*u);
  }
  SECTION("garbage is ignored") {
    req.resume_state = "{not json";
    auto u = e.begin(req);
    CHECK(u->committed() == 0);
    e.abort(*u);
  }
}

TEST_CASE("a resumed session that had completed yields the file", "[drive_storage]") {
  env e;
  const std::string data = bytes_of(G + 5, 4);
  auto req = e.request("completed", data);
  auto u = e.begin(req);
  REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(0, G)));
  const std::string saved = u->resume_state();
  auto obj = e.finish(*u, std::string_view(data).substr(G));
  REQUIRE(obj);
  req.resume_state = saved;
  auto again = e.begin(req);
  CHECK(again->committed() == data.size());
  auto same = e.finish(*again, std::string_view());
  REQUIRE(same);
  CHECK(same->location == obj->location);
  CHECK_FALSE(e.remove(obj->location));
}

TEST_CASE("nothing is left behind by abort or a bad checksum", "[drive_storage]") {
  env e;
  const std::string data = bytes_of(2 * G + 9, 5);
  SECTION("abort cancels the session") {
    const auto cancelled = e.stat("sessions_cancelled");
    auto u = e.begin(e.request("aborter", data));
    REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(0, G)));
    e.abort(*u);
    CHECK(e.stat("sessions_cancelled") == cancelled + 1);
    CHECK(e.list("aborter").empty());
  }
  SECTION("Drive's sha256Checksum differs: the file is deleted") {
    e.fault(R"({"name":"wrong_sha256"})");
    auto u = e.begin(e.request("badsum", data));
    REQUIRE_FALSE(e.write(*u, std::string_view(data).substr(0, 2 * G)));
    auto obj = e.finish(*u, std::string_view(data).substr(2 * G));
    REQUIRE_FALSE(obj);
    CHECK(obj.error().code == errc::drive_checksum_mismatch);
    CHECK_THAT(obj.error().message, Catch::Contains("the file was deleted"));
    CHECK(e.list("badsum").empty());
  }
  SECTION("a missing folder") {
    auto req = e.request("nofolder", data);
    req.folder = "1DoesNotExist";
    auto op = [&]() -> asio::awaitable<respaldo::outcome<env::upload_ptr>> {
      co_return co_await e.storage->begin(req);
    };
    auto u = run_with_deadline(e.io, op(), 20s);
    REQUIRE_FALSE(u);
    CHECK(u.error().code == errc::drive_folder_not_found);
    CHECK_THAT(u.error().message, Catch::Contains("1DoesNotExist"));
  }
}

TEST_CASE("list queries escape quotes and backslashes", "[drive_storage]") {
  CHECK(
      respaldo::drive_list_query("1F", "mi-app") ==
      "'1F' in parents and trashed = false and appProperties has { key='app' and value='mi-app' }");
  CHECK(respaldo::drive_list_query("a'b", "c\\d") ==
        "'a\\'b' in parents and trashed = false and appProperties has { key='app' and "
        "value='c\\\\d' }");
  CHECK(respaldo::query_encode("a b'(,)~") == "a%20b%27%28%2C%29~");
}

TEST_CASE("cancelling a Drive download interrupts its reads", "[drive_storage]") {
  env e;
  const std::string data = bytes_of(3 * G + 777, 7);
  auto obj = e.upload("canceller", data, 2 * G);
  asio::cancellation_signal stop;
  auto op = [&]() -> asio::awaitable<std::pair<std::uint64_t, boost::system::error_code>> {
    auto d = co_await e.storage->open(obj.location, stop.slot());
    if (!d) co_return std::pair{std::uint64_t{0}, d.error().code};
    std::string buf(64 * 1024, '\0');
    std::uint64_t total = 0;
    auto first = co_await (*d)->read_some(asio::buffer(buf));
    if (!first) co_return std::pair{total, first.error().code};
    total += *first;
    // Emitted while the next read waits on the connection.
    auto emit = [&stop] { stop.emit(asio::cancellation_type::terminal); };
    asio::post(co_await asio::this_coro::executor, emit);
    for (;;) {
      auto n = co_await (*d)->read_some(asio::buffer(buf));
      if (!n) co_return std::pair{total, n.error().code};
      if (*n == 0) co_return std::pair{total, boost::system::error_code{}};
      total += *n;
    }
  };
  auto [total, ec] = run_with_deadline(e.io, op(), 20s);
  CHECK(ec == errc::cancelled);
  CHECK(total < data.size());
}

TEST_CASE("cancelling a Drive download during a resume's retry wait ends it at once",
          "[drive_storage]") {
  env e;
  const std::string data = bytes_of(3 * G + 777, 9);
  auto obj = e.upload("patient", data, 2 * G);
  // The first GET breaks after 200 000 bytes; the resume is told to come back in 30 s.
  e.fault(R"({"name":"reset_download","after":200000})");
  asio::cancellation_signal stop;
  using download_ptr = std::unique_ptr<respaldo::storage_download>;
  auto open = [&]() -> asio::awaitable<respaldo::outcome<download_ptr>> {
    co_return co_await e.storage->open(obj.location, stop.slot());
  };
  const auto downloads = e.stat("downloads");
  auto d = run_with_deadline(e.io, open(), 20s);
  REQUIRE(d);
  e.fault(R"({"name":"error","where":"download","status":503,"retry_after":30})");
  auto op = [&]() -> asio::awaitable<boost::system::error_code> {
    auto emit = [&stop] { stop.emit(asio::cancellation_type::terminal); };
    asio::steady_timer later(co_await asio::this_coro::executor, 500ms);
    later.async_wait([emit](boost::system::error_code) { emit(); });
    std::string buf(64 * 1024, '\0');
    for (;;) {
      auto n = co_await (*d)->read_some(asio::buffer(buf));
      if (!n) co_return n.error().code;
      if (*n == 0) co_return boost::system::error_code{};
    }
  };
  const auto started = std::chrono::steady_clock::now();
  auto ec = run_with_deadline(e.io, op(), 20s);
  CHECK(ec == errc::cancelled);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  // Only the first GET sent bytes: the resume was refused, and nothing was asked after the wait.
  CHECK(e.stat("downloads") == downloads + 1);
}
