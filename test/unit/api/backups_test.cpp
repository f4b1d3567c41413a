// An app's backups, the retention plan and downloads of backup content.
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

// Collects a streamed body, as the server's socket would send it.
struct collecting_sink final : respaldo::body_sink {
  std::string bytes;
  boost::asio::awaitable<boost::system::error_code> write(boost::asio::const_buffer data) override {
    bytes.append(static_cast<const char*>(data.data()), data.size());
    co_return boost::system::error_code{};
  }
};

boost::system::error_code drain(api_fixture& f, respaldo::http_response& res,
                                collecting_sink& sink) {
  REQUIRE(res.stream);
  return respaldo::test::run_with_deadline(f.io, res.stream(sink));
}

}  // namespace

TEST_CASE("api: listing an app's backups", "[api][backups]") {
  api_fixture f;
  f.register_app("mi-app");
  for (auto id : {"b1", "b2", "b3"}) {
    f.add_backup("mi-app", id, std::string("bytes of ") + id);
    f.clock.advance(std::chrono::hours(24));
  }
  auto res = f.get("/api/apps/mi-app/backups", {{"limit", "2"}});
  REQUIRE(res.status == 200);
  auto page = body_of(res);
  REQUIRE(page.at("items").as_array().size() == 2);
  auto first = page.at("items").as_array()[0].as_object();
  CHECK(text(first.at("id")) == "b3");
  CHECK(text(first.at("created_at")) == "2026-12-03T10:00:00Z");
  CHECK(text(first.at("storage")) == "local");
  CHECK(text(first.at("status")) == "available");
  CHECK(first.at("md5").is_null());
  CHECK_FALSE(first.at("orphaned").as_bool());
  page = body_of(f.get("/api/apps/mi-app/backups",
                       {{"limit", "2"}, {"cursor", text(page.at("next_cursor"))}}));
  REQUIRE(page.at("items").as_array().size() == 1);
  CHECK(page.at("next_cursor").is_null());

  res = f.get("/api/apps/mi-app/backups", {{"cursor", "%%"}});
  CHECK(res.status == 400);
  CHECK(field_of(res) == "cursor");
  res = f.get("/api/apps/other/backups");
  CHECK(res.status == 404);
  CHECK(code_of(res) == "app_not_found");

  SECTION("a deleted app's backups stay listed, orphaned") {
    REQUIRE(f.call(api_fixture::request("DELETE", "/api/apps/mi-app")).status == 204);
    page = body_of(f.get("/api/apps/mi-app/backups"));
    REQUIRE(page.at("items").as_array().size() == 3);
    CHECK(page.at("items").as_array()[0].at("orphaned").as_bool());
    CHECK(body_of(f.get("/api/backups/b1")).at("orphaned").as_bool());
  }
}

TEST_CASE("api: the retention plan", "[api][backups]") {
  api_fixture f;
  f.register_app("mi-app");
  f.add_backup("mi-app", "b1", "one");
  auto res = f.get("/api/apps/mi-app/retention");
  REQUIRE(res.status == 200);
  auto plan = body_of(res);
  CHECK(text(plan.at("app")) == "mi-app");
  CHECK(text(plan.at("timezone")) == "UTC");
  CHECK(plan.at("policy").at("daily").as_int64() == 7);
  REQUIRE(plan.at("decisions").as_array().size() == 1);
  auto d = plan.at("decisions").as_array()[0].as_object();
  CHECK(text(d.at("backup_id")) == "b1");
  CHECK(text(d.at("created_at")) == "2026-12-01T10:00:00Z");
  CHECK(d.at("keep").as_bool());
  CHECK_FALSE(d.at("reasons").as_array().empty());
  CHECK(code_of(f.get("/api/apps/other/retention")) == "app_not_found");
}

TEST_CASE("api: one backup and its content", "[api][backups]") {
  api_fixture f;
  f.register_app("mi-app");
  auto b = f.add_backup("mi-app", "b1", "the backup bytes");
  auto res = f.get("/api/backups/b1");
  REQUIRE(res.status == 200);
  CHECK(text(body_of(res).at("sha256")) == b.sha256);
  res = f.get("/api/backups/nope");
  CHECK(res.status == 404);
  CHECK(code_of(res) == "backup_not_found");
  CHECK(code_of(f.get("/api/backups/nope/content")) == "backup_not_found");

  SECTION("streamed whole when it matches the catalog") {
    res = f.get("/api/backups/b1/content");
    REQUIRE(res.status == 200);
    CHECK(*res.header("Content-Type") == "application/octet-stream");
    CHECK(*res.header("X-Checksum-SHA256") == b.sha256);
    CHECK(*res.header("X-Size") == std::to_string(b.size));
    CHECK(*res.header("Content-Disposition") == "attachment; filename=\"b1.tar.gz\"");
    CHECK(res.stream_length == b.size);
    collecting_sink sink;
    CHECK_FALSE(drain(f, res, sink));
    CHECK(sink.bytes == "the backup bytes");
  }
  SECTION("cut off before its end when the stored bytes changed") {
    f.backups.objects[b.location].bytes = "the backup BYTES";
    res = f.get("/api/backups/b1/content");
    REQUIRE(res.status == 200);
    collecting_sink sink;
    CHECK(drain(f, res, sink) == respaldo::errc::checksum_mismatch);
    CHECK(sink.bytes.size() < b.size);
  }
  SECTION("cut off when the stored file is larger") {
    f.backups.objects[b.location].bytes += "more";
    res = f.get("/api/backups/b1/content");
    collecting_sink sink;
    CHECK(drain(f, res, sink) == respaldo::errc::size_mismatch);
  }
  SECTION("missing from storage") {
    f.backups.objects.clear();
    res = f.get("/api/backups/b1/content");
    CHECK(res.status == 404);
    CHECK(code_of(res) == "backup_missing");
  }
  SECTION("kept in a storage this server does not have") {
    auto drive = b;
    drive.id = "b2";
    drive.storage = respaldo::storage_kind::drive;
    REQUIRE(f.db->insert_backup(drive));
    res = f.get("/api/backups/b2/content");
    CHECK(res.status == 409);
    CHECK(code_of(res) == "storage_not_configured");
  }
}

TEST_CASE("api: a corrupt backup shows what its verification found", "[api][backups]") {
  api_fixture f;
  f.register_app("mi-app");
  auto b = f.add_backup("mi-app", "b1", "one");
  CHECK(body_of(f.get("/api/backups/b1")).at("mismatch").is_null());
  b.status = respaldo::backup_status::corrupt;
  b.mismatch = respaldo::backup_mismatch{f.clock.now(), 4, std::string(64, 'e')};
  REQUIRE(f.db->update_backup(b));
  auto o = body_of(f.get("/api/backups/b1"));
  CHECK(text(o.at("status")) == "corrupt");
  CHECK(o.at("verified_at").is_null());
  auto m = o.at("mismatch").as_object();
  CHECK(text(m.at("detected_at")) == "2026-12-01T10:00:00Z");
  CHECK(m.at("expected_size").as_int64() == 3);
  CHECK(m.at("found_size").as_int64() == 4);
  CHECK(text(m.at("expected_sha256")) == b.sha256);
  CHECK(text(m.at("found_sha256")) == std::string(64, 'e'));

  // The plan keeps it, with its reason, and it takes no rule's place.
  auto plan = body_of(f.get("/api/apps/mi-app/retention"));
  auto d = plan.at("decisions").as_array()[0].as_object();
  CHECK(d.at("keep").as_bool());
  REQUIRE(d.at("reasons").as_array().size() == 1);
  CHECK(text(d.at("reasons").as_array()[0]) == "corrupt");
}

TEST_CASE("api: the app shows its last verify result", "[api][backups]") {
  api_fixture f;
  f.register_app("mi-app");
  CHECK(body_of(f.get("/api/apps/mi-app")).at("last_verify").is_null());
  auto a = **f.db->get_app("mi-app");
  a.last_verify =
      respaldo::app_verify{respaldo::verify_result::corrupt, f.clock.now(), "job-9", "b1"};
  REQUIRE(f.db->update_app(a));
  auto last = body_of(f.get("/api/apps/mi-app")).at("last_verify").as_object();
  CHECK(text(last.at("result")) == "corrupt");
  CHECK(text(last.at("at")) == "2026-12-01T10:00:00Z");
  CHECK(text(last.at("job_id")) == "job-9");
  CHECK(text(last.at("backup_id")) == "b1");
  a.last_verify->backup_id.clear();
  REQUIRE(f.db->update_app(a));
  CHECK(body_of(f.get("/api/apps/mi-app")).at("last_verify").at("backup_id").is_null());
  // The listing shows the same.
  auto listed = body_of(f.get("/api/apps")).at("items").as_array()[0].as_object();
  CHECK(text(listed.at("last_verify").at("result")) == "corrupt");
}

TEST_CASE("api: deleting one backup", "[api][backups]") {
  api_fixture f;
  f.register_app("mi-app");
  auto older = f.add_backup("mi-app", "b1", "one");
  f.clock.advance(std::chrono::hours(1));
  auto newer = f.add_backup("mi-app", "b2", "two");
  auto del = [&](const std::string& id, api_fixture::query q = {}) {
    return f.call(api_fixture::request("DELETE", "/api/backups/" + id, "", std::move(q)));
  };

  SECTION("an older one: storage first, then the catalog") {
    auto res = del("b1");
    CHECK(res.status == 204);
    CHECK(res.body.empty());
    CHECK(f.backups.objects.count(older.location) == 0);
    CHECK_FALSE(f.db->get_backup("b1").value());
    CHECK(f.log_text.str().find("backup deleted") != std::string::npos);
    CHECK(code_of(del("b1")) == "backup_not_found");
  }
  SECTION("the newest good backup only with force=true") {
    auto res = del("b2");
    CHECK(res.status == 409);
    CHECK(code_of(res) == "last_good_backup");
    CHECK(text(body_of(res).at("backup_id")) == "b2");
    CHECK(text(body_of(res).at("detail")).find("force=true") != std::string::npos);
    CHECK(f.backups.objects.count(newer.location) == 1);
    CHECK(del("b2", {{"force", "false"}}).status == 409);
    CHECK(del("b2", {{"force", "true"}}).status == 204);
    CHECK_FALSE(f.db->get_backup("b2").value());
    // b1 is the newest good one now.
    CHECK(code_of(del("b1")) == "last_good_backup");
  }
  SECTION("a corrupt newest backup is not the last good one") {
    newer.status = respaldo::backup_status::corrupt;
    REQUIRE(f.db->update_backup(newer));
    CHECK(del("b2").status == 204);
    CHECK(code_of(del("b1")) == "last_good_backup");
  }
  SECTION("a bad force value is named") {
    auto res = del("b1", {{"force", "yes"}});
    CHECK(res.status == 400);
    CHECK(code_of(res) == "invalid_parameter");
    CHECK(field_of(res) == "force");
    CHECK(f.db->get_backup("b1").value());
  }
  SECTION("storage refuses: 502, the entry stays") {
    f.backups.fail_remove.insert(older.location);
    auto res = del("b1");
    CHECK(res.status == 502);
    CHECK(code_of(res) == "storage_error");
    CHECK(text(body_of(res).at("detail")).find("the fake storage refused") != std::string::npos);
    CHECK(f.db->get_backup("b1").value()->status == respaldo::backup_status::available);
  }
  SECTION("a backup kept in another storage") {
    auto other = older;
    other.storage = respaldo::storage_kind::drive;
    REQUIRE(f.db->update_backup(other));
    CHECK(code_of(del("b1")) == "storage_not_configured");
    CHECK(f.db->get_backup("b1").value());
  }
  SECTION("without a job runner") {
    respaldo::api bare{f.services(nullptr)};
    auto req = api_fixture::request("DELETE", "/api/backups/b1");
    CHECK(code_of(f.call_on(bare, req)) == "jobs_unavailable");
  }
}

TEST_CASE("api: a backup a verify job may be reading is not deleted", "[api][backups]") {
  api_fixture f;
  f.register_app("mi-app");
  auto older = f.add_backup("mi-app", "b1", "one");
  f.clock.advance(std::chrono::hours(1));
  f.add_backup("mi-app", "b2", "two");
  respaldo::job_record verify;
  verify.id = "v1";
  verify.app = "mi-app";
  verify.kind = respaldo::job_kind::verify;
  verify.state = respaldo::job_state::running;
  verify.created_at = f.clock.now();
  auto del = [&](const std::string& id) {
    return f.call(api_fixture::request("DELETE", "/api/backups/" + id, "", {{"force", "true"}}));
  };

  SECTION("a verify of that backup: 409 naming the job, nothing deleted") {
    verify.backup_id = "b1";
    REQUIRE(f.db->insert_job(verify));
    auto res = del("b1");
    CHECK(res.status == 409);
    CHECK(code_of(res) == "verify_in_progress");
    CHECK(text(body_of(res).at("job_id")) == "v1");
    CHECK(text(body_of(res).at("status_url")) == "/api/jobs/v1");
    CHECK(f.backups.objects.count(older.location) == 1);
    CHECK(f.db->get_backup("b1").value());
    // Another backup of the app is not in its way.
    CHECK(del("b2").status == 204);
  }
  SECTION("a verify of the newest, not yet resolved to a backup, holds every backup") {
    REQUIRE(f.db->insert_job(verify));
    CHECK(code_of(del("b1")) == "verify_in_progress");
  }
  SECTION("a verify that has ended does not") {
    verify.backup_id = "b1";
    verify.state = respaldo::job_state::succeeded;
    REQUIRE(f.db->insert_job(verify));
    CHECK(del("b1").status == 204);
  }
}
