// The event document and what each notifier kind sends for it.
#include "respaldo/notify/formats.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "respaldo/crypto/crypto.hpp"

namespace {

using namespace respaldo;
namespace json = boost::json;

event_record failed_event() {
  event_record e;
  e.kind = event_kind::backup_failed;
  e.app = "mi-app";
  e.job_id = "123e4567";
  e.error_code = "storage_full";
  e.error_message = "no space left\non the disk";
  e.at = sys_seconds{std::chrono::seconds{1'750'215'600}};
  e.started_at = e.at - std::chrono::seconds(60);
  e.finished_at = e.at;
  return e;
}

delivery_record row_of(const event_record& e, const std::string& id = "d-1") {
  delivery_record d;
  d.id = id;
  d.event = e.kind;
  d.app = e.app;
  d.document = event_document(e, id, "http://127.0.0.1:8080");
  return d;
}

std::string header(const notify_request& r, std::string_view name) {
  for (const auto& h : r.headers)
    if (h.name == name) return h.value;
  return "<absent>";
}

}  // namespace

TEST_CASE("the event document names the app, event, job, error, times and delivery", "[notify]") {
  auto doc = json::parse(event_document(failed_event(), "d-1", "http://127.0.0.1:8080"));
  const auto& o = doc.as_object();
  CHECK(o.at("delivery_id") == "d-1");
  CHECK(o.at("event") == "backup.failed");
  CHECK(o.at("app") == "mi-app");
  CHECK(o.at("job").at("id") == "123e4567");
  CHECK(o.at("job").at("url") == "http://127.0.0.1:8080/api/jobs/123e4567");
  CHECK(o.at("backup").is_null());
  CHECK(o.at("error").at("code") == "storage_full");
  CHECK(o.at("at") == "2025-06-18T03:00:00Z");
  CHECK(o.at("started_at") == "2025-06-18T02:59:00Z");
  CHECK(o.at("finished_at") == "2025-06-18T03:00:00Z");

  event_record ok;
  ok.kind = event_kind::app_healthy_again;
  ok.app = "mi-app";
  auto plain = json::parse(event_document(ok, "d-2", "")).as_object();
  CHECK(plain.at("job").is_null());
  CHECK(plain.at("error").is_null());
  CHECK(plain.at("started_at").is_null());
}

TEST_CASE("webhook: the document as body, event and delivery headers, HMAC signature", "[notify]") {
  auto row = row_of(failed_event());
  auto r = format_delivery(notifier_kind::webhook, "https://hooks.example.com/in?x=1", "k3y", row);
  REQUIRE(r.has_value());
  CHECK(r->url == "https://hooks.example.com/in?x=1");
  CHECK(r->content_type == "application/json");
  CHECK(r->body == row.document);
  CHECK(header(*r, "X-Respaldo-Event") == "backup.failed");
  CHECK(header(*r, "X-Respaldo-Delivery") == "d-1");
  CHECK(header(*r, "X-Respaldo-Signature") == "sha256=" + hmac_sha256_hex("k3y", row.document));
  // Every retry sends the same bytes, so the same signature.
  CHECK(format_delivery(notifier_kind::webhook, "https://h/", "k3y", row)->body == r->body);
  auto unsigned_r = format_delivery(notifier_kind::webhook, "https://h/", "", row);
  CHECK(header(*unsigned_r, "X-Respaldo-Signature") == "<absent>");
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 test case 2", "[notify][crypto]") {
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(webhook_signature("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("slack: one line of text with the error and the job's link", "[notify]") {
  auto r = format_delivery(notifier_kind::slack, "https://hooks.slack.com/services/T/B/X", "",
                           row_of(failed_event()));
  REQUIRE(r.has_value());
  CHECK(r->url == "https://hooks.slack.com/services/T/B/X");
  auto body = json::parse(r->body).as_object();
  REQUIRE(body.size() == 1);
  const std::string text(body.at("text").as_string());
  CHECK(text ==
        "[respaldo] backup.failed mi-app: storage_full: no space left on the disk (job "
        "http://127.0.0.1:8080/api/jobs/123e4567)");
  CHECK(header(*r, "X-Respaldo-Signature") == "<absent>");
}

TEST_CASE("healthchecks: /start, the URL itself, /fail with the error as body", "[notify]") {
  const std::string url = "https://hc-ping.com/0b1c2d3e/";
  auto started = failed_event();
  started.kind = event_kind::backup_started;
  auto r1 = format_delivery(notifier_kind::healthchecks, url, "", row_of(started));
  CHECK(r1->url == "https://hc-ping.com/0b1c2d3e/start");
  auto ok = failed_event();
  ok.kind = event_kind::backup_succeeded;
  ok.error_code.clear();
  auto r2 = format_delivery(notifier_kind::healthchecks, url, "", row_of(ok));
  CHECK(r2->url == url);
  auto r3 = format_delivery(notifier_kind::healthchecks, url, "", row_of(failed_event()));
  CHECK(r3->url == "https://hc-ping.com/0b1c2d3e/fail");
  CHECK(r3->body == "storage_full: no space left\non the disk");
  auto q = format_delivery(notifier_kind::healthchecks, "http://hc.local/ping/abc?rid=1", "",
                           row_of(started));
  CHECK(q->url == "http://hc.local/ping/abc/start?rid=1");
}

TEST_CASE("a broken stored document is refused, not sent", "[notify]") {
  delivery_record d;
  d.document = "not json";
  for (auto k : {notifier_kind::webhook, notifier_kind::slack, notifier_kind::healthchecks})
    CHECK(format_delivery(k, "https://h/", "", d).error().code == errc::invalid_argument);
}
