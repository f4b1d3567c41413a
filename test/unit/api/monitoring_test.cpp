// What the API shows for monitoring: stale_after at registration and PATCH, the app JSON's
// freshness and last jobs (stepped with the manual clock), the per-app /metrics families from
// the store, and /metrics behind --metrics-token-file.
#include <catch2/catch.hpp>

#include "api_fixture.hpp"
#include "respaldo/jobs/backup_metrics.hpp"

namespace {

using namespace respaldo;
using namespace respaldo::test;
using namespace std::chrono_literals;

std::string registration_with(const std::string& name, const std::string& extra) {
  auto body = registration(name);
  return body.substr(0, body.rfind('}')) + ", " + extra + "}";
}

http_response patch(api_fixture& f, const std::string& name, const std::string& body) {
  return f.call(api_fixture::request("PATCH", "/api/apps/" + name, body));
}

// A finished backup job of `app` that ran `seconds` and ended now.
void add_job(api_fixture& f, const std::string& id, const std::string& app, job_state state,
             std::int64_t seconds, std::uint64_t bytes) {
  job_record j;
  j.id = id;
  j.app = app;
  j.state = state;
  j.created_at = f.clock.now() - std::chrono::seconds(seconds);
  j.started_at = j.created_at;
  j.finished_at = f.clock.now();
  j.bytes_done = bytes;
  if (state == job_state::failed) j.error_code = "checksum_mismatch";
  REQUIRE(f.db->insert_job(j));
}

}  // namespace

TEST_CASE("api: stale_after is accepted, shown, cleared and refused by name", "[api][apps]") {
  api_fixture f;
  auto res = f.post("/api/apps", registration_with("s", R"("stale_after": "90m")"));
  REQUIRE(res.status == 201);
  auto app = body_of(f.get("/api/apps/s"));
  CHECK(app.at("stale_after") == "90m");
  CHECK(app.at("stale_after_default") == false);
  res = patch(f, "s", R"({"stale_after": null})");
  REQUIRE(res.status == 200);
  // The default of "0 3 * * *": 48 h (no capabilities known yet).
  CHECK(body_of(res).at("stale_after") == "2d");
  CHECK(body_of(res).at("stale_after_default") == true);
  for (const char* bad : {R"("1500ms")", R"("0s")", R"("later")", "7200", "true"}) {
    INFO(bad);
    res = patch(f, "s", std::string(R"({"stale_after": )") + bad + "}");
    CHECK(res.status == 422);
    CHECK(code_of(res) == "validation_failed");
    CHECK(field_of(res) == "stale_after");
  }
  res = f.post("/api/apps", registration_with("t", R"("stale_after": "soon")"));
  CHECK(res.status == 422);
  CHECK(field_of(res) == "stale_after");
  CHECK_FALSE(f.db->get_app("t")->has_value());
}

TEST_CASE("api: an app turns stale after stale_after without a good backup", "[api][apps]") {
  api_fixture f;
  REQUIRE(f.post("/api/apps", registration_with("s", R"("stale_after": "1h")")).status == 201);
  auto app = body_of(f.get("/api/apps/s"));
  CHECK(app.at("stale") == false);
  CHECK(app.at("stale_since").is_null());
  CHECK(app.at("up").is_null());  // never probed
  CHECK(app.at("last_backup").is_null());
  CHECK(app.at("last_success").is_null());
  f.clock.advance(1h + 1s);
  app = body_of(f.get("/api/apps/s"));
  CHECK(app.at("stale") == true);
  CHECK(app.at("stale_since") == "2026-12-01T11:00:00Z");
  // A corrupt backup does not count; a good one does.
  auto bad = f.add_backup("s", "b-bad", "xyz");
  bad.status = backup_status::corrupt;
  REQUIRE(f.db->update_backup(bad));
  CHECK(body_of(f.get("/api/apps/s")).at("stale") == true);
  f.add_backup("s", "b-good", "abc");
  add_job(f, "j1", "s", job_state::succeeded, 7, 3);
  app = body_of(f.get("/api/apps/s"));
  CHECK(app.at("stale") == false);
  CHECK(app.at("newest_good_backup_at") == "2026-12-01T11:00:01Z");
  CHECK(app.at("last_success").at("size") == 3);
  CHECK(app.at("last_success").at("duration_seconds") == 7);
  // The listing shows the same.
  auto list = body_of(f.get("/api/apps"));
  CHECK(list.at("items").as_array()[0].at("last_success").at("job_id") == "j1");
}

TEST_CASE("api: /metrics per app, from the store, gone with the app", "[api][metrics]") {
  api_fixture f;
  describe_backup_metrics(f.stats, *f.db, f.clock, "UTC");
  f.register_app("m");
  add_job(f, "j1", "m", job_state::succeeded, 4, 100);
  add_job(f, "j2", "m", job_state::succeeded, 20, 250);
  add_job(f, "j3", "m", job_state::failed, 2, 0);
  f.add_backup("m", "b1", "0123456789");
  auto text = f.get("/metrics").body;
  auto has = [&text](const std::string& line) {
    INFO(line);
    CHECK(text.find("\n" + line + "\n") != std::string::npos);
  };
  has(R"(respaldo_backups_total{app="m",outcome="succeeded"} 2)");
  has(R"(respaldo_backups_total{app="m",outcome="failed"} 1)");
  has(R"(respaldo_backups_total{app="m",outcome="cancelled"} 0)");
  has(R"(respaldo_backup_duration_seconds_bucket{app="m",le="1"} 0)");
  has(R"(respaldo_backup_duration_seconds_bucket{app="m",le="5"} 2)");
  has(R"(respaldo_backup_duration_seconds_bucket{app="m",le="30"} 3)");
  has(R"(respaldo_backup_duration_seconds_sum{app="m"} 26)");
  has(R"(respaldo_backup_duration_seconds_count{app="m"} 3)");
  has(R"(respaldo_backup_last_size_bytes{app="m"} 250)");
  has(R"(respaldo_backup_bytes_total{app="m"} 350)");
  has(R"(respaldo_backup_last_status{app="m"} 1)");
  has(R"(respaldo_backups_stored{app="m",status="available"} 1)");
  has(R"(respaldo_app_stale{app="m"} 0)");
  CHECK(text.find("respaldo_app_up{") == std::string::npos);  // not probed yet
  REQUIRE(f.call(api_fixture::request("DELETE", "/api/apps/m")).status == 204);
  text = f.get("/metrics").body;
  CHECK(text.find("app=\"m\"") == std::string::npos);
}

TEST_CASE("api: --metrics-token-file protects /metrics with its own token", "[api][auth]") {
  api_fixture f;
  auto services = f.services(&f.runner);
  services.metrics_token = "metrics-secret-token";
  api rest(services);
  auto req = api_fixture::request("GET", "/metrics");
  req.headers.pop_back();
  auto res = f.call_on(rest, req);
  CHECK(res.status == 401);
  CHECK(code_of(res) == "unauthorized");
  CHECK(*res.header("WWW-Authenticate") == "Bearer realm=\"respaldo\"");
  req = api_fixture::request("GET", "/metrics");  // the admin token
  res = f.call_on(rest, req);
  CHECK(res.status == 401);
  CHECK(res.body.find("metrics-secret-token") == std::string::npos);
  req.headers.back().value = "Bearer metrics-secret-token";
  CHECK(f.call_on(rest, req).status == 200);
  // Without the option, /metrics stays open.
  req.headers.pop_back();
  CHECK(f.call(req).status == 200);
}
