// The apps resource and what every request goes through first: authentication and routing.
#include <catch2/catch.hpp>

#include "api_fixture.hpp"

namespace {

using respaldo::test::api_fixture;
using respaldo::test::body_of;
using respaldo::test::code_of;
using respaldo::test::field_of;
using respaldo::test::registration;

std::string text(const boost::json::value& v) {
  return std::string(v.as_string());
}

}  // namespace

TEST_CASE("api: /api needs the admin bearer token, before routing", "[api][auth]") {
  api_fixture f;
  SECTION("no Authorization header") {
    auto req = api_fixture::request("GET", "/api/apps");
    req.headers.pop_back();
    auto res = f.call(req);
    CHECK(res.status == 401);
    CHECK(code_of(res) == "unauthorized");
    CHECK(*res.header("WWW-Authenticate") == "Bearer realm=\"respaldo\"");
  }
  SECTION("another scheme counts as no token") {
    auto req = api_fixture::request("GET", "/api/apps");
    req.headers.back().value = "Basic YWRtaW46eA==";
    auto res = f.call(req);
    CHECK(res.status == 401);
    CHECK(*res.header("WWW-Authenticate") == "Bearer realm=\"respaldo\"");
  }
  SECTION("a wrong token, on a path that does not exist") {
    auto req = api_fixture::request("DELETE", "/api/nothing-here");
    req.headers.back().value = "bearer wrong";
    auto res = f.call(req);
    CHECK(res.status == 401);
    CHECK(code_of(res) == "unauthorized");
    CHECK(*res.header("WWW-Authenticate") == "Bearer realm=\"respaldo\", error=\"invalid_token\"");
  }
  SECTION("the scheme is case-insensitive") {
    auto req = api_fixture::request("GET", "/api/apps");
    req.headers.back().value = std::string("BEARER ") + respaldo::test::admin_token;
    CHECK(f.call(req).status == 200);
  }
  SECTION("health and metrics are open") {
    auto req = api_fixture::request("GET", "/healthz");
    req.headers.clear();
    auto res = f.call(req);
    CHECK(res.status == 200);
    CHECK(text(body_of(res).at("status")) == "ok");
    req = api_fixture::request("GET", "/readyz");
    req.headers.clear();
    CHECK(f.call(req).status == 200);
    req = api_fixture::request("GET", "/metrics");
    req.headers.clear();
    res = f.call(req);
    CHECK(res.status == 200);
    CHECK_THAT(res.body, Catch::Contains("respaldo_http_requests_total"));
    CHECK_THAT(res.body, Catch::Contains("route=\"/readyz\""));
  }
}

TEST_CASE("api: unknown paths and methods", "[api]") {
  api_fixture f;
  auto res = f.get("/api/nothing");
  CHECK(res.status == 404);
  CHECK(code_of(res) == "not_found");
  res = f.call(api_fixture::request("PUT", "/api/apps"));
  CHECK(res.status == 405);
  CHECK(code_of(res) == "method_not_allowed");
  CHECK_THAT(std::string(*res.header("Allow")), Catch::Contains("GET") && Catch::Contains("POST"));
}

TEST_CASE("api: registering an app", "[api][apps]") {
  api_fixture f;
  auto res = f.register_app("mi-app");
  CHECK(*res.header("Location") == "/api/apps/mi-app");
  CHECK(text(body_of(res).at("status")) == "registered");
  CHECK(f.changed == std::vector<std::string>{"mi-app"});

  auto got = f.get("/api/apps/mi-app");
  REQUIRE(got.status == 200);
  auto app = body_of(got);
  CHECK(text(app.at("id")) == "mi-app");
  CHECK(app.at("token_set").as_bool());
  CHECK_FALSE(app.contains("token"));
  CHECK(text(app.at("timezone")) == "UTC");
  CHECK(app.at("verify_schedule").is_null());
  CHECK(text(app.at("created_at")) == "2026-12-01T10:00:00Z");
  CHECK(text(app.at("updated_at")) == "2026-12-01T10:00:00Z");
  CHECK(text(app.at("health").at("status")) == "unknown");
  CHECK(app.at("retention").at("daily").as_int64() == 7);

  SECTION("twice is a conflict on the name") {
    res = f.post("/api/apps", registration("mi-app"));
    CHECK(res.status == 409);
    CHECK(code_of(res) == "app_exists");
    CHECK(field_of(res) == "name");
  }
}

TEST_CASE("api: registration bodies that are refused", "[api][apps]") {
  api_fixture f;
  SECTION("not JSON by media type") {
    auto res =
        f.call(api_fixture::request("POST", "/api/apps", registration("a"), {}, "text/plain"));
    CHECK(res.status == 415);
    CHECK(code_of(res) == "unsupported_media_type");
  }
  SECTION("broken JSON") {
    auto res = f.post("/api/apps", "{\"name\":");
    CHECK(res.status == 400);
    CHECK(code_of(res) == "malformed_json");
  }
  SECTION("each field, by name") {
    struct row {
      const char* field;
      const char* from;
      const char* to;
    };
    const row rows[] = {
        {"name", R"("name": "mi-app")", R"("name": "Mi_App")"},
        {"url", R"("url": "http://mi-app:8000")", R"("url": "ftp://mi-app")"},
        {"token", R"("token": "secreto")", R"("token": "")"},
        {"drive_folder_id", R"("drive_folder_id": "1AbC2dEfG3")", R"("drive_folder_id": "a b")"},
        {"schedule", R"("schedule": "0 3 * * *")", R"("schedule": "every day")"},
        {"retention", R"("retention": {"daily": 7, "weekly": 4})", R"("retention": 7)"},
        {"timezone", R"("schedule")", R"("timezone": "Mars/Base", "schedule")"},
        {"verify_schedule", R"("schedule")", R"("verify_schedule": "x", "schedule")"},
        {"colour", R"("schedule")", R"("colour": "red", "schedule")"},
    };
    for (const auto& r : rows) {
      INFO(r.field);
      auto body = registration("mi-app");
      auto at = body.find(r.from);
      REQUIRE(at != std::string::npos);
      body.replace(at, std::string(r.from).size(), r.to);
      auto res = f.post("/api/apps", body);
      CHECK(res.status == 422);
      CHECK(code_of(res) == "validation_failed");
      CHECK(field_of(res) == r.field);
    }
    CHECK(f.changed.empty());
  }
}

TEST_CASE("api: listing apps a page at a time", "[api][apps]") {
  api_fixture f;
  for (auto name : {"a-app", "b-app", "c-app"}) f.register_app(name);
  auto res = f.get("/api/apps", {{"limit", "2"}});
  REQUIRE(res.status == 200);
  auto page = body_of(res);
  REQUIRE(page.at("items").as_array().size() == 2);
  CHECK(text(page.at("items").as_array()[1].at("id")) == "b-app");
  REQUIRE(page.at("next_cursor").is_string());

  res = f.get("/api/apps", {{"limit", "2"}, {"cursor", text(page.at("next_cursor"))}});
  page = body_of(res);
  REQUIRE(page.at("items").as_array().size() == 1);
  CHECK(text(page.at("items").as_array()[0].at("id")) == "c-app");
  CHECK(page.at("next_cursor").is_null());

  for (auto bad : {"0", "501", "ten"}) {
    res = f.get("/api/apps", {{"limit", bad}});
    CHECK(res.status == 400);
    CHECK(code_of(res) == "invalid_parameter");
    CHECK(field_of(res) == "limit");
  }
  res = f.get("/api/apps", {{"cursor", "!!"}});
  CHECK(res.status == 400);
  CHECK(field_of(res) == "cursor");
}

TEST_CASE("api: reading, changing and deleting an app", "[api][apps]") {
  api_fixture f;
  auto res = f.get("/api/apps/missing");
  CHECK(res.status == 404);
  CHECK(code_of(res) == "app_not_found");

  f.register_app("mi-app");
  f.clock.advance(std::chrono::hours(1));
  auto patch = api_fixture::request("PATCH", "/api/apps/mi-app", R"({"timezone": "Europe/Madrid"})",
                                    {}, "application/merge-patch+json");
  res = f.call(patch);
  REQUIRE(res.status == 200);
  auto app = body_of(res);
  CHECK(text(app.at("timezone")) == "Europe/Madrid");
  CHECK(text(app.at("created_at")) == "2026-12-01T10:00:00Z");
  CHECK(text(app.at("updated_at")) == "2026-12-01T11:00:00Z");

  res = f.call(api_fixture::request("PATCH", "/api/apps/mi-app", R"({"name": "other"})"));
  CHECK(res.status == 422);
  CHECK(code_of(res) == "immutable_field");
  CHECK(field_of(res) == "name");
  res = f.call(api_fixture::request("PATCH", "/api/apps/mi-app", R"({"schedule": null})"));
  CHECK(res.status == 422);
  CHECK(field_of(res) == "schedule");
  res = f.call(api_fixture::request("PATCH", "/api/apps/mi-app", "{}", {}, "text/plain"));
  CHECK(res.status == 415);
  res = f.call(api_fixture::request("PATCH", "/api/apps/missing", "{}"));
  CHECK(res.status == 404);
  CHECK(code_of(res) == "app_not_found");

  SECTION("deleting cancels its queued jobs") {
    auto started = f.post("/api/apps/mi-app/backups");
    REQUIRE(started.status == 202);
    const auto job_id = text(body_of(started).at("job_id"));
    res = f.call(api_fixture::request("DELETE", "/api/apps/mi-app"));
    CHECK(res.status == 204);
    CHECK(f.changed.back() == "mi-app");
    CHECK(f.get("/api/apps/mi-app").status == 404);
    CHECK(text(body_of(f.get("/api/jobs/" + job_id)).at("state")) == "cancelled");
    res = f.call(api_fixture::request("DELETE", "/api/apps/mi-app"));
    CHECK(res.status == 404);
    CHECK(code_of(res) == "app_not_found");
  }
}
