// The notifiers resource over a real SQLite store: what is sealed, what is shown, the limits and
// the refusals a client can act on.
#include <catch2/catch.hpp>

#include "api_fixture.hpp"
#include "respaldo/notify/outbox.hpp"

namespace {

using namespace respaldo;
using respaldo::test::api_fixture;
using respaldo::test::body_of;
using respaldo::test::code_of;
using respaldo::test::field_of;

constexpr const char* hook =
    R"({"name":"ops","kind":"webhook","url":"https://hooks.example.com/path-secret",
        "secret":"signing-key"})";

std::string text(const boost::json::value& v) {
  return std::string(v.as_string());
}

}  // namespace

TEST_CASE("api: a notifier is stored sealed and shown without URL or secret", "[api][notify]") {
  api_fixture f;
  auto res = f.post("/api/notifiers", hook);
  REQUIRE(res.status == 201);
  CHECK(*res.header("Location") == "/api/notifiers/ops");
  for (const auto& shown :
       {res.body, f.get("/api/notifiers/ops").body, f.get("/api/notifiers").body}) {
    CHECK(shown.find("path-secret") == std::string::npos);
    CHECK(shown.find("signing-key") == std::string::npos);
  }
  auto v = body_of(res);
  CHECK(text(v.at("url_host")) == "hooks.example.com");
  CHECK(v.at("has_secret").as_bool());
  CHECK(v.at("enabled").as_bool());
  CHECK(text(v.at("created_at")) == "2026-12-01T10:00:00Z");
  // Sealed with the notifier's own associated data, so it opens only as that notifier's URL.
  auto stored = **f.db->get_notifier("ops");
  CHECK(stored.sealed_url.find("path-secret") == std::string::npos);
  CHECK(f.tokens.open(notifier_url_aad("ops"), stored.sealed_url) ==
        "https://hooks.example.com/path-secret");
  CHECK_FALSE(f.tokens.open("ops", stored.sealed_url));
  CHECK(f.tokens.open(notifier_secret_aad("ops"), stored.sealed_secret) == "signing-key");
  CHECK(f.log_text.str().find("path-secret") == std::string::npos);

  SECTION("a PATCH of the URL reseals it and updates url_host; the secret stays") {
    auto patched = f.call(
        api_fixture::request("PATCH", "/api/notifiers/ops", R"({"url":"http://other:9000/x"})"));
    REQUIRE(patched.status == 200);
    CHECK(text(body_of(patched).at("url_host")) == "other:9000");
    CHECK(body_of(patched).at("has_secret").as_bool());
    auto again = **f.db->get_notifier("ops");
    CHECK(f.tokens.open(notifier_url_aad("ops"), again.sealed_url) == "http://other:9000/x");
    CHECK(again.sealed_secret == stored.sealed_secret);
  }
  SECTION("a second notifier of that name is a conflict") {
    auto dup = f.post("/api/notifiers", hook);
    CHECK(dup.status == 409);
    CHECK(code_of(dup) == "notifier_exists");
    CHECK(field_of(dup) == "name");
  }
}

TEST_CASE("api: notifier limits and unavailable parts", "[api][notify]") {
  api_fixture f;
  SECTION("at most max_notifiers") {
    for (int i = 0; i < 64; ++i) {
      auto body = R"({"name":"n)" + std::to_string(i) + R"(","kind":"slack","url":"https://h/x"})";
      REQUIRE(f.post("/api/notifiers", body).status == 201);
    }
    auto over = f.post("/api/notifiers", R"({"name":"last","kind":"slack","url":"https://h/x"})");
    CHECK(over.status == 409);
    CHECK(code_of(over) == "too_many_notifiers");
  }
  SECTION("the test endpoint needs the outbox") {
    REQUIRE(f.post("/api/notifiers", hook).status == 201);
    auto res = f.post("/api/notifiers/ops/test");
    CHECK(res.status == 503);
    CHECK(code_of(res) == "notifications_unavailable");
    CHECK(f.post("/api/notifiers/nope/test").status == 404);
  }
  SECTION("a link-local literal host is refused on url") {
    auto res = f.post("/api/notifiers",
                      R"({"name":"meta","kind":"webhook","url":"http://169.254.169.254/x"})");
    CHECK(res.status == 422);
    CHECK(field_of(res) == "url");
  }
}

TEST_CASE("api: a disabled notifier covering an app shows as failing in the app", "[api][notify]") {
  api_fixture f;
  f.register_app("mi-app");
  f.register_app("otra");
  REQUIRE(f.post("/api/notifiers",
                 R"({"name":"ops","kind":"slack","url":"https://h/x","apps":["mi-app"]})")
              .status == 201);
  auto failing = [&](const std::string& app) {
    return body_of(f.get("/api/apps/" + app)).at("notifications").at("failing").as_array();
  };
  CHECK(failing("mi-app").empty());
  auto n = **f.db->get_notifier("ops");
  n.enabled = false;
  n.disabled_reason = "410";
  REQUIRE(f.db->update_notifier(n, false));
  REQUIRE(failing("mi-app").size() == 1);
  CHECK(text(failing("mi-app")[0]) == "ops");
  CHECK(failing("otra").empty());  // not covered by it
}

TEST_CASE("api: notifier store failures are 503 store_unavailable", "[api][notify]") {
  api_fixture f(api_fixture::backend::fake);
  auto* fake = dynamic_cast<test::fake_store*>(f.db.get());
  REQUIRE(fake);
  fake->fail_operation("insert_notifier");
  auto res = f.post("/api/notifiers", hook);
  CHECK(res.status == 503);
  CHECK(code_of(res) == "store_unavailable");
  fake->fail_operation("list_deliveries");
  fake->fail_operation("get_notifier");
  CHECK(f.get("/api/notifiers/ops").status == 503);
  CHECK(f.get("/api/notifiers/ops/deliveries").status == 503);
}
