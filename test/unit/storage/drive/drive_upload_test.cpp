#include "respaldo/storage/drive/drive_upload.hpp"

#include <boost/asio/error.hpp>
#include <catch2/catch.hpp>
#include <string>

#include "respaldo/core/time_format.hpp"
#include "support/async_test.hpp"

namespace {

using namespace std::chrono_literals;
using respaldo::errc;
using respaldo::resumable_upload;
using respaldo::upload_response;
using kind = respaldo::resumable_upload::step_kind;

constexpr std::uint64_t G = respaldo::drive_chunk_granularity;

respaldo::drive_retry_policy fast_policy() {
  respaldo::drive_retry_policy p;
  p.base_delay = 100ms;
  p.max_delay = 800ms;
  p.max_attempts = 4;
  p.max_retry_after = 60s;
  return p;
}

upload_response answer(unsigned status) {
  upload_response r;
  r.status = status;
  return r;
}

upload_response persisted(std::uint64_t n) {
  upload_response r;
  r.status = 308;
  if (n > 0) r.range = "bytes=0-" + std::to_string(n - 1);
  return r;
}

upload_response google(unsigned status, const std::string& reason,
                       const std::string& message = "m") {
  upload_response r;
  r.status = status;
  r.body = R"({"error":{"code":)" + std::to_string(status) + R"(,"message":")" + message +
           R"(","errors":[{"domain":"global","reason":")" + reason + R"(","message":")" + message +
           R"("}]}})";
  return r;
}

const std::string resource =
    R"({"id":"1FileId","name":"mi-app.pgdump","size":"600000","md5Checksum":"abc",)"
    R"("sha256Checksum":"def"})";

// A machine with a session, for the tests that start mid-upload.
resumable_upload started(std::uint64_t total) {
  resumable_upload m(total, fast_policy());
  m.offer(0, 0, false);
  REQUIRE(m.next(0.5).kind == kind::initiate);
  upload_response ok = answer(200);
  ok.location = "https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable&upload_id=X";
  m.on_response(ok);
  REQUIRE(m.has_session());
  REQUIRE(m.next(0.5).kind == kind::window_done);
  return m;
}

void expect_send(resumable_upload& m, std::uint64_t offset, std::uint64_t length) {
  auto s = m.next(0.5);
  REQUIRE(s.kind == kind::send);
  CHECK(s.offset == offset);
  CHECK(s.length == length);
}

}  // namespace

TEST_CASE("Google error bodies are read for status, reason and message", "[drive_upload]") {
  SECTION("Drive's JSON shape") {
    auto e = respaldo::parse_google_error(
        403,
        R"({"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"x"}]}})");
    CHECK(e.status == 403);
    CHECK(e.reason == "rateLimitExceeded");
    CHECK(e.message == "Rate Limit Exceeded");
    CHECK(respaldo::describe(e) == "HTTP 403 rateLimitExceeded: Rate Limit Exceeded");
  }
  SECTION("OAuth's shape") {
    auto e = respaldo::parse_google_error(
        400, R"({"error":"invalid_grant","error_description":"Bad\nthing"})");
    CHECK(e.reason == "invalid_grant");
    CHECK(e.message == "Bad thing");
  }
  SECTION("no reason, message only inside errors[0]") {
    auto e =
        respaldo::parse_google_error(500, R"({"error":{"errors":[{"message":"Backend Error"}]}})");
    CHECK(e.reason.empty());
    CHECK(e.message == "Backend Error");
  }
  SECTION("not JSON: text is kept short, HTML dropped") {
    CHECK(
        respaldo::parse_google_error(502, "<html><body>Bad gateway</body></html>").message.empty());
    auto e = respaldo::parse_google_error(502, std::string(1000, 'x'));
    CHECK(e.message.size() < 130);
    CHECK(respaldo::describe(respaldo::parse_google_error(503, "")) == "HTTP 503");
  }
}

TEST_CASE("retryable and quota classification", "[drive_upload]") {
  auto e = [](unsigned s, std::string r) { return respaldo::google_error{s, std::move(r), ""}; };
  CHECK(respaldo::is_retryable(e(429, "")));
  CHECK(respaldo::is_retryable(e(408, "")));
  CHECK(respaldo::is_retryable(e(500, "backendError")));
  CHECK(respaldo::is_retryable(e(503, "")));
  CHECK(respaldo::is_retryable(e(403, "rateLimitExceeded")));
  CHECK(respaldo::is_retryable(e(403, "userRateLimitExceeded")));
  CHECK_FALSE(respaldo::is_retryable(e(403, "storageQuotaExceeded")));
  CHECK_FALSE(respaldo::is_retryable(e(403, "forbidden")));
  CHECK_FALSE(respaldo::is_retryable(e(400, "badRequest")));
  CHECK_FALSE(respaldo::is_retryable(e(404, "notFound")));
  CHECK(respaldo::is_quota_reason("storageQuotaExceeded"));
  CHECK(respaldo::is_quota_reason("dailyLimitExceeded"));
  CHECK(respaldo::is_quota_reason("uploadLimitExceeded"));
  CHECK(respaldo::is_quota_reason("quotaExceeded"));
  CHECK_FALSE(respaldo::is_quota_reason("rateLimitExceeded"));
  CHECK_FALSE(respaldo::is_quota_reason("userRateLimitExceeded"));
  CHECK_FALSE(respaldo::is_quota_reason("forbidden"));
}

TEST_CASE("Range and Retry-After headers", "[drive_upload]") {
  using respaldo::parse_upload_range;
  CHECK(parse_upload_range(std::nullopt) == 0u);
  CHECK(parse_upload_range("bytes=0-262143") == 262144u);
  CHECK(parse_upload_range(" Bytes=0-0 ") == 1u);
  CHECK_FALSE(parse_upload_range("bytes=1-262143"));
  CHECK_FALSE(parse_upload_range("bytes=0-"));
  CHECK_FALSE(parse_upload_range("bytes 0-5"));
  CHECK_FALSE(parse_upload_range("bytes=0-x"));
  CHECK_FALSE(parse_upload_range(""));

  using respaldo::parse_retry_after;
  CHECK(parse_retry_after("2") == std::chrono::milliseconds(2000));
  CHECK(parse_retry_after(" 0 ") == std::chrono::milliseconds(0));
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  CHECK_FALSE(parse_retry_after("-1"));
  CHECK_FALSE(parse_retry_after(""));
}

TEST_CASE("backoff grows, is capped, jitters and honours Retry-After", "[drive_upload]") {
  respaldo::drive_retry_policy p;
  p.base_delay = 1000ms;
  p.max_delay = 32000ms;
  using respaldo::backoff_delay;
  CHECK(backoff_delay(p, 1, 0.0) == 1000ms);
  CHECK(backoff_delay(p, 2, 0.0) == 2000ms);
  CHECK(backoff_delay(p, 4, 0.0) == 8000ms);
  CHECK(backoff_delay(p, 20, 0.0) == 32000ms);
  CHECK(backoff_delay(p, 1, 0.999) < 2000ms);
  CHECK(backoff_delay(p, 1, 0.5) == 1500ms);
  CHECK(backoff_delay(p, 1, 0.0, 5000ms) == 5000ms);
  CHECK(backoff_delay(p, 6, 0.0, 5000ms) == 32000ms);
  p.base_delay = 100ms;  // jitter is at most the base delay (and at most a second)
  CHECK(backoff_delay(p, 1, 0.99) < 200ms);
}

TEST_CASE("file resources are parsed with decimal-string sizes", "[drive_upload]") {
  auto f = respaldo::parse_drive_file(
      R"({"id":"1Ab","name":"n.pgdump","size":"600000","md5Checksum":"ABC","sha256Checksum":"DEF0",)"
      R"("createdTime":"2026-11-30T03:00:00.000Z","appProperties":{"app":"mi-app","respaldo":"1"}})");
  REQUIRE(f);
  CHECK(f->location == "1Ab");
  CHECK(f->name == "n.pgdump");
  CHECK(f->size == 600000u);
  CHECK(f->md5 == "abc");
  CHECK(f->sha256 == "def0");
  CHECK(respaldo::format_rfc3339_utc(f->created_at) == "2026-11-30T03:00:00Z");
  CHECK(f->properties.at("app") == "mi-app");

  auto no_sha = respaldo::parse_drive_file(R"({"id":"1Ab","size":"5"})");
  REQUIRE(no_sha);
  CHECK(no_sha->sha256.empty());
  CHECK_FALSE(respaldo::parse_drive_file(R"({"size":"5"})"));
  CHECK_FALSE(respaldo::parse_drive_file(R"({"id":"1Ab"})"));
  CHECK_FALSE(respaldo::parse_drive_file(R"({"id":"1Ab","size":"5x"})"));
  CHECK_FALSE(respaldo::parse_drive_file("[]"));
}

TEST_CASE("resume state round-trips and rejects anything else", "[drive_upload]") {
  respaldo::drive_resume_state s{"https://h/upload/drive/v3/files?upload_id=abc", 524288, 1000000,
                                 std::string(64, 'a')};
  auto text = respaldo::encode_resume_state(s);
  auto back = respaldo::decode_resume_state(text);
  REQUIRE(back);
  CHECK(back->session_uri == s.session_uri);
  CHECK(back->offset == s.offset);
  CHECK(back->total == s.total);
  CHECK(back->sha256 == s.sha256);
  CHECK_FALSE(respaldo::decode_resume_state(""));
  CHECK_FALSE(respaldo::decode_resume_state("{}"));
  CHECK_FALSE(respaldo::decode_resume_state(
      R"({"v":2,"storage":"drive","session":"x","offset":0,"total":1,"sha256":""})"));
  CHECK_FALSE(respaldo::decode_resume_state(
      R"({"v":1,"storage":"local","session":"x","offset":0,"total":1,"sha256":""})"));
  CHECK_FALSE(respaldo::decode_resume_state(
      R"({"v":1,"storage":"drive","session":"x","offset":2,"total":1,"sha256":""})"));
  CHECK_FALSE(respaldo::decode_resume_state(
      R"({"v":1,"storage":"drive","session":"","offset":0,"total":1,"sha256":""})"));
}

TEST_CASE("a clean upload: initiate, chunks acknowledged by 308, final 200", "[drive_upload]") {
  const std::uint64_t total = 2 * G + 1000;
  resumable_upload m = started(total);
  CHECK(m.persisted() == 0);

  m.offer(0, 2 * G, false);
  expect_send(m, 0, 2 * G);
  m.on_response(persisted(2 * G));
  CHECK(m.next(0.5).kind == kind::window_done);
  CHECK(m.persisted() == 2 * G);

  m.offer(2 * G, total, true);
  expect_send(m, 2 * G, 1000);
  upload_response done = answer(200);
  done.body = resource;
  m.on_response(done);
  CHECK(m.next(0.5).kind == kind::complete);
  CHECK(m.complete());
  CHECK(m.resource() == resource);
  CHECK(m.persisted() == total);
}

TEST_CASE("a 200 with X-Http-Status-Code-Override: 308 is a 308", "[drive_upload]") {
  resumable_upload m = started(4 * G);
  m.offer(0, 2 * G, false);
  expect_send(m, 0, 2 * G);
  upload_response r = persisted(2 * G);
  r.status = 200;
  r.status_override = "308";
  m.on_response(r);
  CHECK_FALSE(m.complete());
  CHECK(m.next(0.5).kind == kind::window_done);
  CHECK(m.persisted() == 2 * G);
}

TEST_CASE("a server that persisted less than was sent gets the rest again", "[drive_upload]") {
  resumable_upload m = started(8 * G);
  m.offer(0, 4 * G, false);
  expect_send(m, 0, 4 * G);
  m.on_response(persisted(G));
  CHECK(m.persisted() == G);
  expect_send(m, G, 3 * G);  // from the same window, i.e. the caller's buffer
  m.on_response(persisted(3 * G));
  expect_send(m, 3 * G, G);
  m.on_response(persisted(4 * G));
  CHECK(m.next(0.5).kind == kind::window_done);

  SECTION("a 308 without Range means nothing was kept: pause, then send from 0 again") {
    resumable_upload n = started(8 * G);
    n.offer(0, 2 * G, false);
    expect_send(n, 0, 2 * G);
    n.on_response(persisted(0));
    CHECK(n.persisted() == 0);
    auto s = n.next(0.5);
    CHECK(s.kind == kind::wait);
    CHECK(s.delay >= 100ms);
    expect_send(n, 0, 2 * G);
  }
  SECTION("never keeping anything ends the upload") {
    resumable_upload n = started(8 * G);
    n.offer(0, 2 * G, false);
    for (int i = 0; i < 4; ++i) {
      expect_send(n, 0, 2 * G);
      n.on_response(persisted(0));
      REQUIRE(n.next(0.5).kind == kind::wait);
    }
    expect_send(n, 0, 2 * G);
    n.on_response(persisted(0));
    CHECK(n.next(0.5).kind == kind::failed);
    CHECK(n.error().code == errc::drive_upload_failed);
  }
}

TEST_CASE("a 5xx is followed by a pause and a status query", "[drive_upload]") {
  resumable_upload m = started(8 * G);
  m.offer(0, 4 * G, false);
  expect_send(m, 0, 4 * G);
  m.on_response(google(503, "backendError", "Backend Error"));
  auto w = m.next(0.5);
  REQUIRE(w.kind == kind::wait);
  CHECK(w.delay >= 100ms);
  CHECK(w.delay < 200ms);
  CHECK(m.next(0.5).kind == kind::query);
  m.on_response(persisted(2 * G));
  expect_send(m, 2 * G, 2 * G);
  m.on_response(persisted(4 * G));
  CHECK(m.next(0.5).kind == kind::window_done);

  SECTION("the pause grows with consecutive failures") {
    resumable_upload n = started(8 * G);
    n.offer(0, 2 * G, false);
    expect_send(n, 0, 2 * G);
    n.on_response(google(500, "backendError"));
    auto first = n.next(0.0);
    REQUIRE(n.next(0.0).kind == kind::query);
    n.on_response(google(502, ""));
    auto second = n.next(0.0);
    CHECK(first.delay == 100ms);
    CHECK(second.delay == 200ms);
  }
}

TEST_CASE("a dropped connection is followed by a status query", "[drive_upload]") {
  resumable_upload m = started(8 * G);
  m.offer(0, 4 * G, false);
  expect_send(m, 0, 4 * G);
  m.on_transport_error(boost::asio::error::connection_reset, "reset");
  CHECK(m.next(0.5).kind == kind::query);  // the first drop is asked about at once
  m.on_transport_error(boost::asio::error::connection_refused, "refused");
  auto w = m.next(0.5);
  CHECK(w.kind == kind::wait);
  CHECK(m.next(0.5).kind == kind::query);
  m.on_response(persisted(0));
  expect_send(m, 0, 4 * G);
  m.on_response(persisted(4 * G));
  CHECK(m.next(0.5).kind == kind::window_done);

  SECTION("timeouts in a row end the upload with timeout") {
    resumable_upload n = started(8 * G);
    n.offer(0, 2 * G, false);
    expect_send(n, 0, 2 * G);
    for (int i = 0; i < 5; ++i) {
      n.on_transport_error(respaldo::make_error_code(errc::timeout), "no progress");
      auto s = n.next(0.5);
      if (s.kind == kind::wait) s = n.next(0.5);
      if (i < 4)
        REQUIRE(s.kind == kind::query);
      else
        CHECK(s.kind == kind::failed);
    }
    CHECK(n.error().code == errc::timeout);
    CHECK_THAT(n.error().message, Catch::Contains("no progress"));
  }
  SECTION("TLS failures and cancellation are not retried") {
    resumable_upload n = started(8 * G);
    n.offer(0, 2 * G, false);
    expect_send(n, 0, 2 * G);
    n.on_transport_error(respaldo::make_error_code(errc::tls_error), "certificate verify failed");
    CHECK(n.next(0.5).kind == kind::failed);
    CHECK(n.error().code == errc::tls_error);
    CHECK_THAT(n.error().message, Catch::Contains("certificate verify failed"));

    resumable_upload c = started(8 * G);
    c.offer(0, 2 * G, false);
    expect_send(c, 0, 2 * G);
    c.on_transport_error(respaldo::make_error_code(errc::cancelled), "");
    CHECK(c.next(0.5).kind == kind::failed);
    CHECK(c.error().code == errc::cancelled);
  }
}

TEST_CASE("rate limits pause (honouring Retry-After) and send again", "[drive_upload]") {
  SECTION("429 with Retry-After") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    upload_response r = google(429, "rateLimitExceeded");
    r.retry_after = "2";
    m.on_response(r);
    auto w = m.next(0.5);
    REQUIRE(w.kind == kind::wait);
    CHECK(w.delay == 2000ms);
    expect_send(m, 0, 2 * G);  // refused before processing: no status query needed
  }
  for (std::string reason : {"rateLimitExceeded", "userRateLimitExceeded"}) {
    SECTION("403 " + reason) {
      resumable_upload m = started(8 * G);
      m.offer(0, 2 * G, false);
      expect_send(m, 0, 2 * G);
      m.on_response(google(403, reason));
      CHECK(m.next(0.5).kind == kind::wait);
      expect_send(m, 0, 2 * G);
      m.on_response(persisted(2 * G));
      CHECK(m.next(0.5).kind == kind::window_done);
    }
  }
  SECTION("a Retry-After beyond the policy ends the upload at once") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    upload_response r = google(429, "rateLimitExceeded");
    r.retry_after = "3600";
    m.on_response(r);
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_rate_limited);
    CHECK_THAT(m.error().message, Catch::Contains("3600"));
  }
  SECTION("a rate limit that never ends gives drive_rate_limited") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    for (int i = 0; i < 4; ++i) {
      expect_send(m, 0, 2 * G);
      m.on_response(google(429, "rateLimitExceeded"));
      REQUIRE(m.next(0.5).kind == kind::wait);
    }
    expect_send(m, 0, 2 * G);
    m.on_response(google(429, "rateLimitExceeded"));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_rate_limited);
  }
}

TEST_CASE("failures that are not retried", "[drive_upload]") {
  SECTION("storageQuotaExceeded at initiation explains the ways out") {
    resumable_upload m(10, fast_policy());
    m.offer(0, 0, false);
    REQUIRE(m.next(0.5).kind == kind::initiate);
    m.on_response(
        google(403, "storageQuotaExceeded", "Service Accounts do not have storage quota."));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_quota_exceeded);
    CHECK_THAT(m.error().message, Catch::Contains("shared drive"));
    CHECK_THAT(m.error().message, Catch::Contains("--drive-impersonate"));
    CHECK_THAT(m.error().message, Catch::Contains("OAuth"));
    CHECK_THAT(m.error().message, Catch::Contains("Service Accounts do not have storage quota"));
  }
  SECTION("storageQuotaExceeded on a chunk") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    m.on_response(google(403, "storageQuotaExceeded"));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_quota_exceeded);
  }
  SECTION("the daily upload cap") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    m.on_response(google(403, "uploadLimitExceeded"));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_quota_exceeded);
  }
  SECTION("a missing folder") {
    resumable_upload m(10, fast_policy());
    m.offer(0, 0, false);
    REQUIRE(m.next(0.5).kind == kind::initiate);
    m.on_response(google(404, "notFound", "File not found: 1Missing."));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_folder_not_found);
    CHECK_THAT(m.error().message, Catch::Contains("1Missing"));
  }
  SECTION("other 4xx") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    m.on_response(google(400, "badRequest", "Invalid Content-Range"));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_upload_failed);
    CHECK_THAT(m.error().message, Catch::Contains("Invalid Content-Range"));
  }
  SECTION("initiation without Location") {
    resumable_upload m(10, fast_policy());
    m.offer(0, 0, false);
    REQUIRE(m.next(0.5).kind == kind::initiate);
    m.on_response(answer(200));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_upload_failed);
  }
  SECTION("an unusable Range") {
    resumable_upload m = started(4 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    upload_response r = answer(308);
    r.range = "bytes=0-999999999";
    m.on_response(r);
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_upload_failed);
  }
  SECTION("an acknowledged offset that is not a multiple of 256 KiB mid-upload") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    m.on_response(persisted(1000));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_upload_failed);
  }
  SECTION("an external failure (the token could not be refreshed)") {
    resumable_upload m = started(8 * G);
    m.fail(respaldo::failure{respaldo::make_error_code(errc::drive_auth_failed), "revoked"});
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().message == "revoked");
  }
}

TEST_CASE("401 refreshes the token once and repeats the request", "[drive_upload]") {
  resumable_upload m = started(8 * G);
  m.offer(0, 2 * G, false);
  expect_send(m, 0, 2 * G);
  m.on_response(google(401, "authError"));
  CHECK(m.next(0.5).kind == kind::refresh_token);
  expect_send(m, 0, 2 * G);

  SECTION("a second 401 in a row fails with drive_auth_failed") {
    m.on_response(google(401, "authError"));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_auth_failed);
  }
  SECTION("after a success, a later 401 refreshes again") {
    m.on_response(persisted(2 * G));
    m.offer(2 * G, 4 * G, false);
    expect_send(m, 2 * G, 2 * G);
    m.on_response(google(401, "authError"));
    CHECK(m.next(0.5).kind == kind::refresh_token);
    expect_send(m, 2 * G, 2 * G);
  }
  SECTION("at initiation too") {
    resumable_upload n(10, fast_policy());
    n.offer(0, 0, false);
    REQUIRE(n.next(0.5).kind == kind::initiate);
    n.on_response(google(401, "authError"));
    CHECK(n.next(0.5).kind == kind::refresh_token);
    CHECK(n.next(0.5).kind == kind::initiate);
  }
}

TEST_CASE("a vanished session is restarted only while byte 0 is at hand", "[drive_upload]") {
  for (unsigned status : {404u, 410u}) {
    SECTION("HTTP " + std::to_string(status) + " in the first window: a new session") {
      resumable_upload m = started(8 * G);
      m.offer(0, 2 * G, false);
      expect_send(m, 0, 2 * G);
      m.on_response(google(status, "notFound"));
      CHECK(m.next(0.5).kind == kind::initiate);
      CHECK_FALSE(m.has_session());
      CHECK(m.session_restarts() == 1);
      upload_response ok = answer(200);
      ok.location = "https://www.googleapis.com/upload/drive/v3/files?upload_id=Y";
      m.on_response(ok);
      CHECK(m.session_uri().ends_with("upload_id=Y"));
      expect_send(m, 0, 2 * G);
    }
    SECTION("HTTP " + std::to_string(status) + " later: drive_session_expired") {
      resumable_upload m = started(8 * G);
      m.offer(0, 2 * G, false);
      expect_send(m, 0, 2 * G);
      m.on_response(persisted(2 * G));
      m.offer(2 * G, 4 * G, false);
      expect_send(m, 2 * G, 2 * G);
      m.on_response(google(status, "notFound"));
      CHECK(m.next(0.5).kind == kind::failed);
      CHECK(m.error().code == errc::drive_session_expired);
    }
  }
  SECTION("a server that forgot acknowledged bytes") {
    resumable_upload m = started(8 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    m.on_response(persisted(2 * G));
    m.offer(2 * G, 4 * G, false);
    expect_send(m, 2 * G, 2 * G);
    m.on_response(google(503, "backendError"));
    REQUIRE(m.next(0.5).kind == kind::wait);
    REQUIRE(m.next(0.5).kind == kind::query);
    m.on_response(persisted(G));
    CHECK(m.next(0.5).kind == kind::failed);
    CHECK(m.error().code == errc::drive_session_expired);
  }
}

TEST_CASE("the final window", "[drive_upload]") {
  SECTION("a lost final answer: the status query returns the file") {
    resumable_upload m = started(G + 5);
    m.offer(0, G, false);
    expect_send(m, 0, G);
    m.on_response(persisted(G));
    m.offer(G, G + 5, true);
    expect_send(m, G, 5);
    m.on_transport_error(boost::asio::error::eof, "closed");
    CHECK(m.next(0.5).kind == kind::query);
    upload_response done = answer(201);
    done.body = resource;
    m.on_response(done);
    CHECK(m.next(0.5).kind == kind::complete);
  }
  SECTION("an empty upload is finished by a status query") {
    resumable_upload m(0, fast_policy());
    m.offer(0, 0, false);
    REQUIRE(m.next(0.5).kind == kind::initiate);
    upload_response ok = answer(200);
    ok.location = "https://www.googleapis.com/upload?upload_id=Z";
    m.on_response(ok);
    REQUIRE(m.next(0.5).kind == kind::window_done);
    m.offer(0, 0, true);
    CHECK(m.next(0.5).kind == kind::query);
    upload_response done = answer(200);
    done.body = R"({"id":"1","size":"0"})";
    m.on_response(done);
    CHECK(m.complete());
  }
  SECTION("a non-final window never sends the last byte") {
    resumable_upload m = started(2 * G);
    m.offer(0, 2 * G, false);
    expect_send(m, 0, 2 * G);
    m.on_response(persisted(2 * G));
    CHECK(m.next(0.5).kind == kind::window_done);
  }
}

TEST_CASE("resuming a saved session", "[drive_upload]") {
  const std::string uri = "https://www.googleapis.com/upload/drive/v3/files?upload_id=OLD";
  SECTION("the status query gives the offset to continue from") {
    resumable_upload m(8 * G, fast_policy());
    m.resume(uri);
    m.offer(0, 0, false);
    CHECK(m.next(0.5).kind == kind::query);
    m.on_response(persisted(3 * G));
    CHECK(m.next(0.5).kind == kind::window_done);
    CHECK(m.persisted() == 3 * G);
    CHECK(m.session_uri() == uri);
    m.offer(3 * G, 4 * G, false);  // the caller skips what is committed
    expect_send(m, 3 * G, G);
  }
  SECTION("a session that is gone starts over with a new one") {
    resumable_upload m(8 * G, fast_policy());
    m.resume(uri);
    m.offer(0, 0, false);
    REQUIRE(m.next(0.5).kind == kind::query);
    m.on_response(google(404, "notFound"));
    CHECK(m.next(0.5).kind == kind::initiate);
    CHECK(m.persisted() == 0);
  }
  SECTION("a session that already completed") {
    resumable_upload m(8 * G, fast_policy());
    m.resume(uri);
    m.offer(0, 0, false);
    REQUIRE(m.next(0.5).kind == kind::query);
    upload_response done = answer(200);
    done.body = resource;
    m.on_response(done);
    CHECK(m.next(0.5).kind == kind::complete);
    CHECK(m.persisted() == 8 * G);
  }
  SECTION("a 503 on the status query is retried") {
    resumable_upload m(8 * G, fast_policy());
    m.resume(uri);
    m.offer(0, 0, false);
    REQUIRE(m.next(0.5).kind == kind::query);
    m.on_response(google(503, "backendError"));
    CHECK(m.next(0.5).kind == kind::wait);
    CHECK(m.next(0.5).kind == kind::query);
  }
}
