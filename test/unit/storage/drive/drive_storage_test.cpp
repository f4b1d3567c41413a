// drive_storage against the project's Drive double (test/doubles/drive_double.py, run as a child
// process on loopback): uploads, resuming a saved session, listing with short pages, downloads
// and deletes, and the checks that keep a bad file out of the folder.
#include "respaldo/storage/drive/drive_storage.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "storage/drive/drive_double_env.hpp"
#include "support/async_test.hpp"

using namespace respaldo::test::drive;

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
