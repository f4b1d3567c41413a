// Starting backups and verifications, and the jobs resource.
#include <catch2/catch.hpp>

#include "api_fixture.hpp"

namespace {

using respaldo::test::api_fixture;
using respaldo::test::body_of;
using respaldo::test::code_of;
using respaldo::test::field_of;

std::string text(const boost::json::value& v) {
  return std::string(v.as_string());
}

}  // namespace

TEST_CASE("api: starting a backup", "[api][jobs]") {
  api_fixture f;
  f.register_app("mi-app");
  f.clock.advance(std::chrono::minutes(5));
  auto res = f.post("/api/apps/mi-app/backups");
  REQUIRE(res.status == 202);
  const auto id = text(body_of(res).at("job_id"));
  CHECK(*res.header("Location") == "/api/jobs/" + id);
  CHECK(text(body_of(res).at("status_url")) == "/api/jobs/" + id);

  auto job = body_of(f.get("/api/jobs/" + id));
  CHECK(text(job.at("state")) == "queued");
  CHECK(text(job.at("kind")) == "backup");
  CHECK(text(job.at("trigger")) == "manual");
  CHECK(text(job.at("created_at")) == "2026-12-01T10:05:00Z");
  CHECK(job.at("error").is_null());
  CHECK(job.at("backup").is_null());

  SECTION("while one is queued") {
    res = f.post("/api/apps/mi-app/backups", "{}");
    CHECK(res.status == 409);
    CHECK(code_of(res) == "backup_in_progress");
    CHECK(text(body_of(res).at("job_id")) == id);
  }
  SECTION("with options it does not take") {
    res = f.post("/api/apps/mi-app/backups", R"({"full": true})");
    CHECK(res.status == 422);
    CHECK(code_of(res) == "validation_failed");
    res = f.call(api_fixture::request("POST", "/api/apps/mi-app/backups", "x", {}, "text/plain"));
    CHECK(res.status == 415);
  }
  SECTION("of an app that is not registered") {
    res = f.post("/api/apps/other/backups");
    CHECK(res.status == 404);
    CHECK(code_of(res) == "app_not_found");
  }
}

TEST_CASE("api: starting a verification", "[api][jobs]") {
  api_fixture f;
  f.register_app("mi-app");
  auto res = f.post("/api/apps/mi-app/verify");
  CHECK(res.status == 409);
  CHECK(code_of(res) == "no_backup");
  f.add_backup("mi-app", "b1", "bytes");
  res = f.post("/api/apps/mi-app/verify");
  REQUIRE(res.status == 202);
  res = f.post("/api/apps/mi-app/verify");
  CHECK(res.status == 409);
  CHECK(code_of(res) == "verify_in_progress");
}

TEST_CASE("api: without a job runner", "[api][jobs]") {
  api_fixture f;
  f.register_app("mi-app");
  respaldo::api bare{f.services(nullptr)};
  auto req = api_fixture::request("POST", "/api/apps/mi-app/backups");
  auto res = f.call_on(bare, req);
  CHECK(res.status == 503);
  CHECK(code_of(res) == "jobs_unavailable");
  req = api_fixture::request("POST", "/api/jobs/x/cancel");
  CHECK(code_of(f.call_on(bare, req)) == "jobs_unavailable");
}

TEST_CASE("api: listing jobs", "[api][jobs]") {
  api_fixture f;
  for (auto name : {"a-app", "b-app", "c-app"}) {
    f.register_app(name);
    REQUIRE(f.post(std::string("/api/apps/") + name + "/backups").status == 202);
  }
  auto res = f.get("/api/jobs", {{"limit", "2"}});
  REQUIRE(res.status == 200);
  auto page = body_of(res);
  REQUIRE(page.at("items").as_array().size() == 2);
  CHECK(text(page.at("items").as_array()[0].at("app")) == "c-app");  // newest first
  REQUIRE(page.at("next_cursor").is_string());
  page = body_of(f.get("/api/jobs", {{"limit", "2"}, {"cursor", text(page.at("next_cursor"))}}));
  REQUIRE(page.at("items").as_array().size() == 1);
  CHECK(text(page.at("items").as_array()[0].at("app")) == "a-app");
  CHECK(page.at("next_cursor").is_null());

  page = body_of(f.get("/api/jobs", {{"app", "b-app"}, {"state", "queued"}, {"kind", "backup"}}));
  CHECK(page.at("items").as_array().size() == 1);
  page = body_of(f.get("/api/jobs", {{"kind", "verify"}}));
  CHECK(page.at("items").as_array().empty());

  for (auto [name, value] : {std::pair{"state", "done"}, {"kind", "restore"}, {"cursor", "Zm9v"}}) {
    INFO(name);
    res = f.get("/api/jobs", {{name, value}});
    CHECK(res.status == 400);
    CHECK(code_of(res) == "invalid_parameter");
    CHECK(field_of(res) == name);
  }
}

TEST_CASE("api: a job with its backup", "[api][jobs]") {
  api_fixture f{api_fixture::backend::fake};
  f.register_app("mi-app");
  auto b = f.add_backup("mi-app", "b1", "bytes");
  respaldo::job_record j;
  j.id = b.job_id;
  j.app = "mi-app";
  j.state = respaldo::job_state::succeeded;
  j.backup_id = b.id;
  j.created_at = f.clock.now();
  j.finished_at = f.clock.now();
  REQUIRE(f.db->insert_job(j));
  f.store_calls().clear();
  auto job = body_of(f.get("/api/jobs/" + j.id));
  // One store read for the job and its backup (the page of a listing is one read too).
  CHECK(f.store_calls().at("get_job_view") == 1);
  CHECK(f.store_calls().count("get_backup") == 0);
  CHECK(f.store_calls().count("app_exists") == 0);
  CHECK(text(job.at("finished_at")) == "2026-12-01T10:00:00Z");
  REQUIRE(job.at("backup").is_object());
  CHECK(text(job.at("backup").at("id")) == "b1");
  CHECK_FALSE(job.at("backup").at("orphaned").as_bool());
  f.store_calls().clear();
  auto listed = body_of(f.get("/api/jobs"));
  CHECK(f.store_calls().at("list_job_views") == 1);
  CHECK(f.store_calls().count("get_backup") == 0);
  CHECK(text(listed.at("items").as_array()[0].at("backup").at("sha256")) == b.sha256);

  auto res = f.get("/api/jobs/nope");
  CHECK(res.status == 404);
  CHECK(code_of(res) == "job_not_found");
}

TEST_CASE("api: cancelling a job", "[api][jobs]") {
  api_fixture f;
  f.register_app("mi-app");
  const auto id = text(body_of(f.post("/api/apps/mi-app/backups")).at("job_id"));
  f.clock.advance(std::chrono::seconds(30));
  auto res = f.post("/api/jobs/" + id + "/cancel");
  REQUIRE(res.status == 202);
  auto job = body_of(res);
  CHECK(text(job.at("state")) == "cancelled");
  CHECK(text(job.at("finished_at")) == "2026-12-01T10:00:30Z");
  CHECK(text(job.at("error").at("code")) == "cancelled");

  res = f.post("/api/jobs/" + id + "/cancel");
  CHECK(res.status == 409);
  CHECK(code_of(res) == "job_finished");
  CHECK(text(body_of(res).at("job_id")) == id);
  res = f.post("/api/jobs/nope/cancel");
  CHECK(res.status == 404);
  CHECK(code_of(res) == "job_not_found");
}
