// The embedded storage backend on a real temporary directory.
#include "respaldo/storage/local/local_storage.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "respaldo/core/error.hpp"
#include "support/async_test.hpp"
#include "support/temp_files.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using boost::system::error_code;
using respaldo::errc;
using respaldo::failure;
using respaldo::local_storage;
using respaldo::outcome;
using respaldo::storage_download;
using respaldo::storage_upload;
using respaldo::stored_object;
using respaldo::upload_request;
using respaldo::test::run_with_deadline;

using respaldo::test::temp_dir;

struct fixture {
  temp_dir dir;
  asio::io_context io;
  asio::thread_pool pool{2};
  local_storage storage{pool, (dir.path / "backups").string()};

  ~fixture() { pool.join(); }

  upload_request request(std::string job = "0123456789abcdef") {
    upload_request r;
    r.folder = "1AbC2dEfG3";
    r.app = "mi-app";
    r.job_id = std::move(job);
    r.format = "pgdump";
    r.created_at =
        std::chrono::sys_seconds(std::chrono::seconds(1796007600));  // 2026-11-30T03:00:00Z
    r.sha256 = "ab";
    r.total_size = 0;
    return r;
  }

  std::unique_ptr<storage_upload> begin(const upload_request& r) {
    auto u = run_with_deadline(io, storage.begin(r));
    REQUIRE(u);
    return std::move(*u);
  }

  // The failure of the last write() (its detail), kept for the checks on messages.
  failure last_write_failure;

  error_code write(storage_upload& u, const std::string& data) {
    auto r = run_with_deadline(io, u.write(asio::buffer(data)));
    if (r) return {};
    last_write_failure = r.error();
    return r.error().code;
  }

  outcome<stored_object> finish(storage_upload& u, const std::string& data) {
    return run_with_deadline(io, u.finish(asio::buffer(data)));
  }

  error_code remove(const std::string& location) {
    auto r = run_with_deadline(io, storage.remove(location));
    return r ? error_code{} : r.error().code;
  }

  void abort(storage_upload& u) { run_with_deadline(io, u.abort()); }

  // Every regular file under the root, relative to it.
  std::set<std::string> files() {
    std::set<std::string> out;
    std::error_code ec;
    const fs::path root = dir.path / "backups";
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file()) out.insert(fs::relative(it->path(), root).string());
    return out;
  }

  std::string read_all(const std::string& location) {
    auto d = run_with_deadline(io, storage.open(location));
    REQUIRE(d);
    std::string out;
    std::vector<char> buf(7);  // small reads: many calls
    while (true) {
      auto n = run_with_deadline(io, (*d)->read_some(asio::buffer(buf)));
      REQUIRE(n);
      if (*n == 0) break;
      out.append(buf.data(), *n);
    }
    CHECK((*d)->size() == out.size());
    return out;
  }
};

const std::string final_location = "1AbC2dEfG3/mi-app/20261130T030000Z-0123456789abcdef.pgdump";

// Ignoring SIGXFSZ and lowering RLIMIT_FSIZE turns writes past the limit into EFBIG: a disk error
// on demand, for the duration of a scope.
struct file_size_limit {
  rlimit saved{};
  void (*saved_handler)(int) = nullptr;
  explicit file_size_limit(rlim_t bytes) {
    saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    rlimit lower = saved;
    lower.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
  }
  ~file_size_limit() {
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, saved_handler);
  }
};

}  // namespace

TEST_CASE("an upload becomes visible only when finished", "[local_storage]") {
  fixture f;
  auto up = f.begin(f.request());
  CHECK(up->committed() == 0);
  REQUIRE_FALSE(f.write(*up, "hello "));
  REQUIRE_FALSE(f.write(*up, ""));
  REQUIRE_FALSE(f.write(*up, "backup "));

  // Before finish(): only a hidden partial file, which list() does not show.
  auto before = f.files();
  REQUIRE(before.size() == 1);
  const std::string partial = *before.begin();
  CHECK(fs::path(partial).filename().string().front() == '.');
  CHECK(partial.size() > 8);
  CHECK(partial.substr(partial.size() - 8) == ".partial");
  auto listed = run_with_deadline(f.io, f.storage.list("1AbC2dEfG3", "mi-app"));
  REQUIRE(listed);
  CHECK(listed->empty());

  auto obj = f.finish(*up, "world");
  REQUIRE(obj);
  CHECK(obj->location == final_location);
  CHECK(obj->name == "20261130T030000Z-0123456789abcdef.pgdump");
  CHECK(obj->size == 18);
  CHECK(obj->sha256 == "ab");
  CHECK(obj->created_at == f.request().created_at);
  CHECK(f.files() == std::set<std::string>{final_location});

  struct stat st {};
  REQUIRE(::stat((f.dir.path / "backups" / final_location).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(f.read_all(final_location) == "hello backup world");

  listed = run_with_deadline(f.io, f.storage.list("1AbC2dEfG3", "mi-app"));
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].location == final_location);
  CHECK((*listed)[0].size == 18);
  up.reset();
  CHECK(f.files() ==
        std::set<std::string>{final_location});  // destroying a finished upload keeps it
}

TEST_CASE("an empty upload is a valid empty file", "[local_storage]") {
  fixture f;
  auto up = f.begin(f.request());
  auto obj = f.finish(*up, "");
  REQUIRE(obj);
  CHECK(obj->size == 0);
  CHECK(f.read_all(final_location).empty());
}

TEST_CASE("abort and an abandoned upload leave nothing behind", "[local_storage]") {
  fixture f;
  SECTION("abort") {
    auto up = f.begin(f.request());
    REQUIRE_FALSE(f.write(*up, "some bytes"));
    f.abort(*up);
    CHECK(f.files().empty());
    f.abort(*up);  // twice is harmless
    CHECK(f.write(*up, "more") == errc::storage_error);
    auto late = f.finish(*up, "x");
    REQUIRE_FALSE(late);
    CHECK(late.error().code == errc::storage_error);
    CHECK(f.files().empty());
  }
  SECTION("destroyed without finish or abort") {
    auto up = f.begin(f.request());
    REQUIRE_FALSE(f.write(*up, "some bytes"));
    up.reset();
    CHECK(f.files().empty());
  }
}

TEST_CASE("open reports missing and unsafe locations as not found", "[local_storage]") {
  fixture f;
  auto missing = run_with_deadline(f.io, f.storage.open("1AbC2dEfG3/mi-app/nope.pgdump"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == errc::not_found);
  fs::create_directories(f.dir.path / "backups" / "folder" / "dir.pgdump");
  auto dir = run_with_deadline(f.io, f.storage.open("folder/dir.pgdump"));
  REQUIRE_FALSE(dir);
  CHECK(dir.error().code == errc::not_found);
  std::ofstream(f.dir.path / "secret") << "outside";
  for (const char* bad : {"../secret", "/etc/passwd", "", "a/../../secret", "./x"}) {
    INFO(bad);
    auto r = run_with_deadline(f.io, f.storage.open(bad));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::not_found);
  }
}

TEST_CASE("remove deletes and is idempotent", "[local_storage]") {
  fixture f;
  auto up = f.begin(f.request());
  REQUIRE(f.finish(*up, "data"));
  CHECK_FALSE(f.remove(final_location));
  CHECK(f.files().empty());
  CHECK_FALSE(f.remove(final_location));  // already gone
  CHECK_FALSE(f.remove("never/was/there.pgdump"));
  std::ofstream(f.dir.path / "secret") << "outside";
  for (const char* bad : {"../secret", "/etc/passwd", ""}) {
    INFO(bad);
    CHECK(f.remove(bad) == errc::storage_error);
  }
  CHECK(fs::exists(f.dir.path / "secret"));
}

TEST_CASE("remove_partials removes only unfinished uploads", "[local_storage]") {
  fixture f;
  // A finished backup whose format happens to be "partial" must survive.
  auto req = f.request("aaaaaaaaaaaaaaaa");
  req.format = "partial";
  auto finished = f.begin(req);
  REQUIRE(f.finish(*finished, "finished"));
  auto other = f.begin(f.request("bbbbbbbbbbbbbbbb"));
  REQUIRE(f.finish(*other, "also finished"));
  // Two unfinished uploads, as a crash would leave them (released without cleanup).
  auto a = f.begin(f.request("cccccccccccccccc"));
  REQUIRE_FALSE(f.write(*a, "half"));
  auto other_app = f.request("dddddddddddddddd");
  other_app.app = "other-app";
  auto b = f.begin(other_app);
  REQUIRE_FALSE(f.write(*b, "half"));
  CHECK(f.files().size() == 4);

  CHECK(f.storage.remove_partials() == 2);
  const auto left = f.files();
  CHECK(left ==
        std::set<std::string>{"1AbC2dEfG3/mi-app/20261130T030000Z-aaaaaaaaaaaaaaaa.partial",
                              "1AbC2dEfG3/mi-app/20261130T030000Z-bbbbbbbbbbbbbbbb.pgdump"});
  CHECK(f.storage.remove_partials() == 0);
  auto listed = run_with_deadline(f.io, f.storage.list("1AbC2dEfG3", "mi-app"));
  REQUIRE(listed);
  CHECK(listed->size() == 2);
}

TEST_CASE("remove_partials on a missing root does nothing", "[local_storage]") {
  asio::thread_pool pool(1);
  local_storage s(pool, "/nonexistent/respaldo/backups");
  CHECK(s.remove_partials() == 0);
  pool.join();
}

TEST_CASE("unsafe storage paths are refused", "[local_storage]") {
  fixture f;
  struct row {
    const char* folder;
    const char* app;
    const char* job;
    const char* format;
  };
  for (const auto& r : std::vector<row>{{"..", "mi-app", "j1", "pgdump"},
                                        {"1Ab", "..", "j1", "pgdump"},
                                        {"1Ab", "../x", "j1", "pgdump"},
                                        {"a/b", "mi-app", "j1", "pgdump"},
                                        {"", "mi-app", "j1", "pgdump"},
                                        {"1Ab", "", "j1", "pgdump"},
                                        {".hidden", "mi-app", "j1", "pgdump"},
                                        {"1Ab", "mi-app", "j/../../x", "pgdump"},
                                        {"1Ab", "mi-app", "j1", "x/../../../../etc"},
                                        {"1Ab", "mi-app", "j1", ""}}) {
    INFO(r.folder << " | " << r.app << " | " << r.job << " | " << r.format);
    auto req = f.request(r.job);
    req.folder = r.folder;
    req.app = r.app;
    req.format = r.format;
    auto u = run_with_deadline(f.io, f.storage.begin(req));
    REQUIRE_FALSE(u);
    CHECK(u.error().code == errc::storage_error);
    CHECK_THAT(u.error().message, Catch::Contains("unsafe"));
  }
  CHECK(f.files().empty());
  CHECK_FALSE(fs::exists(f.dir.path / "x"));
  auto listed = run_with_deadline(f.io, f.storage.list("..", ".."));
  REQUIRE_FALSE(listed);
  CHECK(listed.error().code == errc::storage_error);
}

TEST_CASE("disk errors are storage_error with a detail", "[local_storage]") {
  SECTION("the root cannot be created (a file is in the way)") {
    temp_dir dir;
    std::ofstream(dir.path / "backups") << "not a directory";
    asio::io_context io;
    asio::thread_pool pool(1);
    local_storage s(pool, (dir.path / "backups").string());
    upload_request req;
    req.folder = "f";
    req.app = "a";
    req.job_id = "j";
    req.format = "raw";
    auto u = run_with_deadline(io, s.begin(req));
    REQUIRE_FALSE(u);
    CHECK(u.error().code == errc::storage_error);
    CHECK_THAT(u.error().message, Catch::Contains("creating"));
    pool.join();
  }
  SECTION("a read-only directory") {
    if (::geteuid() == 0) {
      WARN("running as root: permissions are not enforced, skipping the read-only directory check");
      return;
    }
    fixture f;
    fs::create_directories(f.dir.path / "backups" / "1AbC2dEfG3" / "mi-app");
    fs::permissions(f.dir.path / "backups" / "1AbC2dEfG3" / "mi-app",
                    fs::perms::owner_read | fs::perms::owner_exec);
    auto u = run_with_deadline(f.io, f.storage.begin(f.request()));
    REQUIRE_FALSE(u);
    CHECK(u.error().code == errc::storage_error);
    CHECK_THAT(u.error().message, Catch::Contains("Permission denied"));
  }
  SECTION("a write that fails part way (file too large) removes the partial file") {
    fixture f;
    auto up = f.begin(f.request());
    const std::string big(64 * 1024, 'x');
    error_code ec;
    {
      file_size_limit limit(100 * 1024);
      REQUIRE_FALSE(f.write(*up, big));
      ec = f.write(*up, big);
    }
    CHECK(ec == errc::storage_error);
    CHECK_THAT(f.last_write_failure.message,
               Catch::Contains("writing") && Catch::Contains("too large"));
    f.abort(*up);
    CHECK(f.files().empty());
  }
  SECTION("a finish that cannot write its last chunk removes the partial file") {
    fixture f;
    auto up = f.begin(f.request());
    const std::string big(64 * 1024, 'x');
    REQUIRE_FALSE(f.write(*up, big));
    outcome<stored_object> obj;
    {
      file_size_limit limit(100 * 1024);
      obj = f.finish(*up, big);
    }
    REQUIRE_FALSE(obj);
    CHECK(obj.error().code == errc::storage_error);
    CHECK(f.files().empty());
  }
}

TEST_CASE("cancelling a local download fails its next read", "[local_storage]") {
  fixture f;
  auto up = f.begin(f.request());
  REQUIRE(f.finish(*up, std::string(1000, 'x')));
  asio::cancellation_signal stop;
  auto d = run_with_deadline(f.io, f.storage.open(final_location, stop.slot()));
  REQUIRE(d);
  std::vector<char> buf(100);
  auto n = run_with_deadline(f.io, (*d)->read_some(asio::buffer(buf)));
  REQUIRE(n);
  CHECK(*n == 100);
  stop.emit(asio::cancellation_type::terminal);
  auto after = run_with_deadline(f.io, (*d)->read_some(asio::buffer(buf)));
  REQUIRE_FALSE(after);
  CHECK(after.error().code == errc::cancelled);
  d->reset();
  stop.emit(asio::cancellation_type::terminal);  // no handler left behind: nothing happens
}

TEST_CASE("a backup larger than the free space fails storage_full before any file exists",
          "[local_storage]") {
  fixture f;
  fs::create_directories(f.dir.path / "backups");
  const auto free_bytes = fs::space(f.dir.path / "backups").available;
  SECTION("X-Size above the free space") {
    auto req = f.request();
    req.total_size = free_bytes + 1;
    auto u = run_with_deadline(f.io, f.storage.begin(req));
    REQUIRE_FALSE(u);
    CHECK(u.error().code == errc::storage_full);
    CHECK_THAT(u.error().message, Catch::Contains("not enough free space") &&
                                      Catch::Contains("plus 1%") &&
                                      Catch::Contains(std::to_string(free_bytes + 1)));
    CHECK(f.files().empty());
  }
  SECTION("the 1% margin counts: X-Size just under the free space is refused too") {
    auto req = f.request();
    req.total_size = free_bytes - free_bytes / 200;  // fits, but not with 1% on top
    auto u = run_with_deadline(f.io, f.storage.begin(req));
    REQUIRE_FALSE(u);
    CHECK(u.error().code == errc::storage_full);
    CHECK(f.files().empty());
  }
  SECTION("a size that fits with its margin begins as before") {
    auto req = f.request();
    req.total_size = 4096;
    auto up = f.begin(req);
    CHECK(f.files().size() == 1);  // the partial file
    f.abort(*up);
  }
}
