// The project's Drive double (test/doubles/drive_double.py) as a child process on loopback, started
// once per test binary, and a drive_storage wired to it with helpers that step uploads,
// downloads and the double's control API. Shared by the drive_storage tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/client/client.hpp"
#include "respaldo/storage/drive/drive_storage.hpp"
#include "support/async_test.hpp"

namespace respaldo::test::drive {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using respaldo::errc;
using respaldo::test::run_with_deadline;

inline constexpr std::size_t G = respaldo::drive_chunk_granularity;
inline const std::string folder = "1StorageTestFolder";

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

inline double_process& the_double() {
  static double_process d;
  return d;
}

inline std::string bytes_of(std::size_t n, unsigned seed) {
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

  explicit env(bool md5_in_flight = false) {
    const std::string base = the_double().base_url();
    auto creds = respaldo::parse_drive_credentials(
        R"({"type":"authorized_user","client_id":"cid","client_secret":"csecret","refresh_token":"rtoken"})");
    REQUIRE(creds);
    tokens = std::make_unique<respaldo::drive_token_source>(client, *creds, base + "/token", "");
    respaldo::drive_storage_options opts;
    opts.api_url = base;
    opts.retry.base_delay = 20ms;
    opts.retry.max_delay = 100ms;
    opts.md5_in_flight = md5_in_flight;
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

}  // namespace respaldo::test::drive
