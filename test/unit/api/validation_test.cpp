#include "respaldo/api/validation.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/core/text.hpp"

namespace {

namespace json = boost::json;
using respaldo::app_record;

const char* const guide_body = R"({
  "name": "mi-app",
  "url": "http://mi-app:8000",
  "token": "secreto-compartido",
  "drive_folder_id": "1AbC2dEfG3",
  "schedule": "0 3 * * *",
  "retention": { "daily": 7, "weekly": 4 }
})";

json::object guide() {
  return json::parse(guide_body).as_object();
}

// The guide's body with one member replaced (or removed when `value` is "<drop>").
json::value with(const std::string& key, const std::string& value_json) {
  auto o = guide();
  if (value_json == "<drop>")
    o.erase(key);
  else
    o[key] = json::parse(value_json);
  return o;
}

// apply_app_patch returns the patched copy; these tests were written against patching in place
// (the handler's use), so they go through this adapter and keep their assertions.
std::optional<respaldo::failure> patch_in_place(app_record& app, const json::value& patch) {
  auto patched = respaldo::apply_app_patch(app, patch);
  if (!patched) return patched.error();
  app = std::move(*patched);
  return std::nullopt;
}

// A rule's message when it refuses, nullopt when it accepts.
std::optional<std::string> refusal(const respaldo::outcome<void>& checked) {
  if (checked) return std::nullopt;
  CHECK(checked.error().code == respaldo::errc::invalid_argument);
  return checked.error().message;
}

}  // namespace

TEST_CASE("the guide's registration body is valid", "[app_validation]") {
  auto app = respaldo::validate_registration(json::parse(guide_body));
  REQUIRE(app.has_value());
  CHECK(app->name == "mi-app");
  CHECK(app->url == "http://mi-app:8000");
  CHECK(app->token == "secreto-compartido");
  CHECK(app->drive_folder_id == "1AbC2dEfG3");
  CHECK(app->schedule == "0 3 * * *");
  CHECK(app->retention.daily == 7);
  CHECK(app->retention.weekly == 4);
  CHECK(app->retention.monthly == 0);
  CHECK(app->retention.yearly == 0);
  CHECK(app->retention.last == 0);
  CHECK(app->timezone.empty());
  CHECK(app->verify_schedule.empty());
}

TEST_CASE("valid registrations at the edges of each rule", "[app_validation]") {
  struct row {
    const char* key;
    std::string value;
  };
  const std::vector<row> rows = {
      {"name", R"("a")"},
      {"name", "\"" + std::string(63, 'a') + "\""},
      {"name", R"("0")"},
      {"name", R"("a-b-c-1")"},
      {"name", R"("9abc")"},
      {"url", R"("https://mi-app:8443")"},
      {"url", R"("http://mi-app")"},
      {"url", R"("http://10.1.2.3:8000/base/path?x=1")"},
      {"url", R"("http://[::1]:8000")"},
      {"url", R"("HTTPS://MI-APP")"},
      {"url", R"("http://mi-app:65535")"},
      {"url", R"("http://mi-app:1")"},
      {"url", R"("http://mi-app:")"},
      {"token", R"("x")"},
      {"token", "\"" + std::string(4096, 't') + "\""},
      {"token", R"("ñandú with spaces and \"quotes\"")"},
      {"drive_folder_id", R"("a")"},
      {"drive_folder_id", "\"" + std::string(256, 'Z') + "\""},
      {"drive_folder_id", R"("A-b_9")"},
      {"schedule", R"("@daily")"},
      {"schedule", R"("*/15 1-5 1,15 JAN-MAR MON-FRI")"},
      {"schedule", R"("  0 3 * * *  ")"},
      {"retention", R"({"daily": 0, "weekly": 1})"},
      {"retention",
       R"({"daily": 10000, "weekly": 10000, "monthly": 10000, "yearly": 10000, "last": 10000})"},
      {"retention", R"({"daily": 0, "weekly": 0, "last": 1})"},
      {"timezone", R"("Europe/Madrid")"},
      {"timezone", R"("UTC")"},
      {"timezone", "null"},
      {"verify_schedule", R"("0 5 * * 0")"},
      {"verify_schedule", "null"},
  };
  for (const auto& r : rows) {
    INFO(r.key << " = " << r.value.substr(0, 80));
    auto app = respaldo::validate_registration(with(r.key, r.value));
    CHECK(app.has_value());
  }
}

TEST_CASE("invalid registrations name the field and say what is expected", "[app_validation]") {
  struct row {
    const char* key;
    std::string value;
    const char* field;
    const char* expect;  // words the message must contain
  };
  const std::vector<row> rows = {
      {"name", "\"" + std::string(64, 'a') + "\"", "name", "DNS label"},
      {"name", R"("Mi-App")", "name", "DNS label"},
      {"name", R"("-mi-app")", "name", "letter or digit"},
      {"name", R"("mi-app-")", "name", "DNS label"},
      {"name", R"("mi_app")", "name", "a-z"},
      {"name", R"("mi.app")", "name", "DNS label"},
      {"name", R"("")", "name", "1 to 63"},
      {"name", R"("ñ")", "name", "DNS label"},
      {"name", "5", "name", "must be a string"},
      {"name", "<drop>", "name", "missing required field"},
      {"url", R"("/relative/path")", "url", "absolute"},
      {"url", R"("mi-app:8000")", "url", "http or https"},
      {"url", R"("ftp://mi-app/")", "url", "http or https"},
      {"url", R"("file:///etc/passwd")", "url", "http or https"},
      {"url", R"("http:///export")", "url", "host"},
      {"url", R"("http://")", "url", "host"},
      {"url", R"("http://user:pw@mi-app:8000")", "url", "credentials"},
      {"url", R"("http://user@mi-app:8000")", "url", "credentials"},
      {"url", R"("http://mi-app:8000/#x")", "url", "fragment"},
      {"url", R"("http://mi-app:8000#")", "url", "fragment"},
      {"url", R"("http://mi-app:0")", "url", "port"},
      {"url", R"("http://mi-app:65536")", "url", "port"},
      {"url", R"("http://mi-app:99999999999")", "url", "port"},
      {"url", R"("http://mi app")", "url", "absolute"},
      {"url", R"("")", "url", "absolute"},
      {"url", "[]", "url", "must be a string"},
      {"url", "<drop>", "url", "missing required field"},
      {"token", R"("")", "token", "1 to 4096"},
      {"token", "\"" + std::string(4097, 't') + "\"", "token", "4097"},
      {"token", "null", "token", "must be a string"},
      {"token", "12345", "token", "must be a string"},
      {"token", "<drop>", "token", "missing required field"},
      {"drive_folder_id", R"("a/b")", "drive_folder_id", "A-Z, a-z, 0-9"},
      {"drive_folder_id", R"("a b")", "drive_folder_id", "1 to 256"},
      {"drive_folder_id", R"("a.b")", "drive_folder_id", "1 to 256"},
      {"drive_folder_id", "\"" + std::string(257, 'a') + "\"", "drive_folder_id", "256"},
      {"drive_folder_id", R"("")", "drive_folder_id", "1 to 256"},
      {"drive_folder_id", "true", "drive_folder_id", "must be a string"},
      {"schedule", R"("61 3 * * *")", "schedule", "cron expression"},
      {"schedule", R"("0 3 * *")", "schedule", "5 fields"},
      {"schedule", R"("")", "schedule", "cron expression"},
      {"schedule", R"("every day")", "schedule", "cron expression"},
      {"schedule", R"(["0 3 * * *"])", "schedule", "must be a string"},
      {"schedule", "<drop>", "schedule", "missing required field"},
      {"verify_schedule", R"("0 24 * * *")", "verify_schedule", "cron expression"},
      {"verify_schedule", "7", "verify_schedule", "must be a string"},
      {"verify_schedule", R"("")", "verify_schedule", "cron expression"},
      {"timezone", R"("Mars/Olympus")", "timezone", "IANA"},
      {"timezone", R"("")", "timezone", "IANA"},
      {"timezone", "1", "timezone", "must be a string"},
      {"retention", R"({"weekly": 4})", "retention", "daily"},
      {"retention", R"({"daily": 7})", "retention", "weekly"},
      {"retention", R"({})", "retention", "daily"},
      {"retention", R"({"daily": -1, "weekly": 4})", "retention", "0 to 10000"},
      {"retention", R"({"daily": 7, "weekly": 10001})", "retention", "10000"},
      {"retention", R"({"daily": 7, "weekly": 18446744073709551615})", "retention", "10000"},
      {"retention", R"({"daily": 0, "weekly": 0})", "retention", "at least one"},
      {"retention", R"({"daily": 0, "weekly": 0, "monthly": 0, "yearly": 0, "last": 0})",
       "retention", "at least one"},
      {"retention", R"([7, 4])", "retention", "object"},
      {"retention", "7", "retention", "object"},
      {"retention", "null", "retention", "object"},
      {"retention", R"("daily")", "retention", "object"},
      {"retention", R"({"daily": 7, "weekly": 4, "hourly": 1})", "retention", "hourly"},
      {"retention", R"({"daily": "7", "weekly": 4})", "retention", "daily"},
      {"retention", R"({"daily": 1.5, "weekly": 4})", "retention", "daily"},
      {"retention", R"({"daily": true, "weekly": 4})", "retention", "daily"},
      {"retention", "<drop>", "retention", "missing required field"},
      {"colour", R"("blue")", "colour", "unknown field"},
      {"Name", R"("mi-app")", "Name", "unknown field"},
      {"token_set", "true", "token_set", "unknown field"},
      {"id", R"("mi-app")", "id", "unknown field"},
  };
  for (const auto& r : rows) {
    INFO(r.key << " = " << r.value.substr(0, 80));
    auto app = respaldo::validate_registration(with(r.key, r.value));
    REQUIRE_FALSE(app.has_value());
    CHECK(app.error().subject == r.field);
    CHECK(app.error().code == respaldo::errc::validation_failed);
    CHECK_THAT(app.error().message, Catch::Contains(r.field));
    CHECK_THAT(app.error().message, Catch::Contains(r.expect));
  }
}

TEST_CASE("a registration body that is not an object is refused", "[app_validation]") {
  for (const char* body : {"[]", "null", "\"mi-app\"", "42", "true"}) {
    INFO(body);
    auto app = respaldo::validate_registration(json::parse(body));
    REQUIRE_FALSE(app.has_value());
    CHECK(app.error().subject.empty());
    CHECK_THAT(app.error().message, Catch::Contains("JSON object"));
  }
}

TEST_CASE("app patches merge (RFC 7396) and validate the result", "[app_validation]") {
  auto registered = respaldo::validate_registration(json::parse(guide_body));
  REQUIRE(registered.has_value());
  const app_record original = *registered;

  SECTION("an empty patch changes nothing") {
    app_record app = original;
    CHECK_FALSE(patch_in_place(app, json::parse("{}")));
    CHECK(app.url == original.url);
    CHECK(app.token == original.token);
    CHECK(app.retention.daily == 7);
  }
  SECTION("members present replace, absent ones stay") {
    app_record app = original;
    auto e = patch_in_place(
        app,
        json::parse(R"({"url": "https://new:9000", "schedule": "@hourly", "token": "nuevo"})"));
    REQUIRE_FALSE(e);
    CHECK(app.name == "mi-app");
    CHECK(app.url == "https://new:9000");
    CHECK(app.schedule == "@hourly");
    CHECK(app.token == "nuevo");
    CHECK(app.drive_folder_id == original.drive_folder_id);
    CHECK(app.retention.daily == 7);
    CHECK(app.retention.weekly == 4);
  }
  SECTION("retention merges rule by rule; null removes a rule") {
    app_record app = original;
    REQUIRE_FALSE(patch_in_place(app, json::parse(R"({"retention": {"monthly": 12}})")));
    CHECK(app.retention.daily == 7);
    CHECK(app.retention.weekly == 4);
    CHECK(app.retention.monthly == 12);
    REQUIRE_FALSE(patch_in_place(app, json::parse(R"({"retention": {"weekly": null}})")));
    CHECK(app.retention.daily == 7);
    CHECK(app.retention.weekly == 0);
    CHECK(app.retention.monthly == 12);
    REQUIRE_FALSE(patch_in_place(app, json::parse(R"({"retention": {"daily": 0}})")));
    CHECK(app.retention.daily == 0);
    CHECK(app.retention.monthly == 12);
  }
  SECTION("the merged policy is validated as a whole") {
    app_record app = original;
    auto e = patch_in_place(app, json::parse(R"({"retention": {"daily": null, "weekly": null}})"));
    REQUIRE(e);
    CHECK(e->subject == "retention");
    CHECK_THAT(e->message, Catch::Contains("at least one"));
    e = patch_in_place(app, json::parse(R"({"retention": {"daily": 20000}})"));
    REQUIRE(e);
    CHECK(e->subject == "retention");
    e = patch_in_place(app, json::parse(R"({"retention": {"minutely": 1}})"));
    REQUIRE(e);
    CHECK_THAT(e->message, Catch::Contains("minutely"));
    CHECK(app.retention.daily == 7);
  }
  SECTION("optional fields are set and cleared with null") {
    app_record app = original;
    REQUIRE_FALSE(patch_in_place(
        app, json::parse(R"({"timezone": "Europe/Madrid", "verify_schedule": "0 5 * * 0"})")));
    CHECK(app.timezone == "Europe/Madrid");
    CHECK(app.verify_schedule == "0 5 * * 0");
    REQUIRE_FALSE(
        patch_in_place(app, json::parse(R"({"timezone": null, "verify_schedule": null})")));
    CHECK(app.timezone.empty());
    CHECK(app.verify_schedule.empty());
  }
  SECTION("name is immutable") {
    for (const char* body : {R"({"name": "other"})", R"({"name": "mi-app"})", R"({"name": null})",
                             R"({"name": "other", "url": "http://x"})"}) {
      INFO(body);
      app_record app = original;
      auto e = patch_in_place(app, json::parse(body));
      REQUIRE(e);
      CHECK(e->subject == "name");
      CHECK(e->code == respaldo::errc::immutable_field);
      CHECK(app.url == original.url);
    }
  }
  SECTION("required fields cannot be removed") {
    for (const char* f : {"url", "token", "drive_folder_id", "schedule", "retention"}) {
      INFO(f);
      app_record app = original;
      json::object patch;
      patch[f] = nullptr;
      auto e = patch_in_place(app, patch);
      REQUIRE(e);
      CHECK(e->subject == f);
      CHECK_THAT(e->message, Catch::Contains("null"));
    }
  }
  SECTION("an invalid member leaves the app unchanged, even after valid ones") {
    struct row {
      const char* body;
      const char* field;
    };
    for (const auto& r : std::vector<row>{
             {R"({"url": "https://ok:1", "schedule": "bad"})", "schedule"},
             {R"({"schedule": "@daily", "url": "ftp://x/"})", "url"},
             {R"({"token": ""})", "token"},
             {R"({"drive_folder_id": "a/b"})", "drive_folder_id"},
             {R"({"retention": 3})", "retention"},
             {R"({"timezone": "Nowhere/Town"})", "timezone"},
             {R"({"verify_schedule": "x"})", "verify_schedule"},
             {R"({"url": 1})", "url"},
             {R"({"extra": 1})", "extra"},
         }) {
      INFO(r.body);
      app_record app = original;
      auto e = patch_in_place(app, json::parse(r.body));
      REQUIRE(e);
      CHECK(e->subject == r.field);
      CHECK(e->code == respaldo::errc::validation_failed);
      CHECK(app.url == original.url);
      CHECK(app.schedule == original.schedule);
      CHECK(app.token == original.token);
      CHECK(app.drive_folder_id == original.drive_folder_id);
      CHECK(app.retention.daily == original.retention.daily);
    }
  }
  SECTION("a patch that is not an object is refused") {
    app_record app = original;
    auto e = patch_in_place(app, json::parse("[1]"));
    REQUIRE(e);
    CHECK(e->subject.empty());
  }
}

TEST_CASE("the individual rules are usable on their own", "[app_validation]") {
  CHECK_FALSE(refusal(respaldo::check_app_name("mi-app")));
  // An inner double dash is a valid label.
  CHECK(refusal(respaldo::check_app_name("mi--app")) == std::nullopt);
  CHECK(refusal(respaldo::check_app_name("MI")));
  CHECK_FALSE(refusal(respaldo::check_app_url("http://mi-app:8000")));
  CHECK(refusal(respaldo::check_app_url("http://mi-app:8000/#f")));
  CHECK_FALSE(refusal(respaldo::check_drive_folder_id("1AbC2dEfG3")));
  CHECK(refusal(respaldo::check_drive_folder_id("1AbC 2dEfG3")));
}

TEST_CASE("a schedule that never fires is refused at registration and in a patch",
          "[app_validation]") {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4 *", "0 0 31 4,6,9,11 *", "0 0 31 2 */2"}) {
    INFO(expr);
    for (const char* field : {"schedule", "verify_schedule"}) {
      INFO(field);
      const std::string value = std::string("\"") + expr + "\"";
      auto reg = respaldo::validate_registration(with(field, value));
      REQUIRE_FALSE(reg.has_value());
      CHECK(reg.error().code == respaldo::errc::validation_failed);
      CHECK(reg.error().subject == field);
      CHECK_THAT(reg.error().message, Catch::Contains("never fires") &&
                                          Catch::Contains("400 years") && Catch::Contains(expr));

      auto original = respaldo::validate_registration(json::parse(guide_body));
      REQUIRE(original.has_value());
      json::object patch;
      patch[field] = expr;
      auto patched = respaldo::apply_app_patch(*original, patch);
      REQUIRE_FALSE(patched.has_value());
      CHECK(patched.error().subject == field);
      CHECK_THAT(patched.error().message, Catch::Contains("never fires"));
    }
  }
}

TEST_CASE("schedules that fire rarely or only by weekday stay valid", "[app_validation]") {
  // Vixie rule: both day fields restricted means either matches, so "0 0 31 2 1" fires on the
  // Mondays of February; Feb 29 fires in leap years.
  for (const char* expr : {"0 0 31 2 1", "0 0 30 2 MON", "0 0 29 2 *", "0 0 31 * *"}) {
    INFO(expr);
    auto reg = respaldo::validate_registration(with("schedule", std::string("\"") + expr + "\""));
    CHECK(reg.has_value());
  }
}

// Found by the app_validation fuzz target: field names and values a client sends reach logs and
// terminals through problem details, so control characters in them are escaped.
TEST_CASE("validation: refusals escape control characters of what the client sent",
          "[validation]") {
  auto body = boost::json::parse(
      R"({"name":"mi\u001b[2Japp","url":"http://mi-app:8000","token":"t0k3n-secret-value",
          "drive_folder_id":"1AbC","schedule":"0 3 * * *","retention":{"daily":7,"weekly":4}})");
  auto bad_name = respaldo::validate_registration(body);
  REQUIRE_FALSE(bad_name.has_value());
  CHECK(bad_name.error().message.find('\x1b') == std::string::npos);
  CHECK_THAT(bad_name.error().message, Catch::Contains("mi\\x1b[2Japp"));

  body.as_object().erase("name");
  body.as_object()["name"] = "mi-app";
  body.as_object()["x\r\nforged"] = 1;
  auto unknown = respaldo::validate_registration(body);
  REQUIRE_FALSE(unknown.has_value());
  CHECK_THAT(unknown.error().message, Catch::Contains("unknown field \"x\\r\\nforged\""));
  CHECK(unknown.error().subject == "x\\r\\nforged");

  // A cut that would end inside a UTF-8 sequence ends before it (found in CI by the same target).
  body.as_object().erase("x\r\nforged");
  body.as_object()["stale_after"] =
      std::string(63, '-') + "\xcf\x9a" + std::string(10, '-') + "\x1b";
  auto stale = respaldo::validate_registration(body);
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().subject == "stale_after");
  const auto& m = stale.error().message;
  CHECK(m.find('\x1b') == std::string::npos);
  for (std::size_t i = 0; i < m.size(); i += respaldo::utf8_sequence_at(m, i))
    REQUIRE(respaldo::utf8_sequence_at(m, i) > 0);
}
