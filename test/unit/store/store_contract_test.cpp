// The repository semantics every store backend shares, run against each of them: SQLite and the
// in-memory fake the consumers' tests use. Backend-specific behaviour is in sqlite/.
#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "store/store_backends.hpp"
#include "store/store_records.hpp"

namespace {

using namespace respaldo;
using namespace respaldo::test;

}  // namespace

TEMPLATE_TEST_CASE("store apps: insert, get, list in name order, update, delete", "[store]",
                   sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();

  SECTION("round trip of every field") {
    auto a = make_app("full");
    a.timezone = "Europe/Madrid";
    a.verify_schedule = "0 5 * * 0";
    a.retention.monthly = 12;
    a.retention.yearly = 3;
    a.retention.last = 2;
    a.next_run_at = at(1'700'010'000);
    a.last_run_at = at(1'700'000'500);
    a.last_success_at = at(1'700'000'400);
    a.next_verify_at = at(1'700'020'000);
    a.health.status = health_status::ok;
    a.health.checked_at = at(1'700'000'600);
    a.health.detail = "fine";
    a.health.capabilities = boost::json::object{{"version", "v1"}, {"est_size", 100}};
    REQUIRE(s->insert_app(a).has_value());
    auto got = s->get_app("full");
    REQUIRE(got.has_value());
    REQUIRE(got->has_value());
    const auto& g = **got;
    CHECK(g.name == "full");
    CHECK(g.url == a.url);
    CHECK(token_of(g) == a.token);
    CHECK(g.drive_folder_id == a.drive_folder_id);
    CHECK(g.schedule == a.schedule);
    CHECK(g.timezone == "Europe/Madrid");
    CHECK(g.verify_schedule == "0 5 * * 0");
    CHECK(g.retention.daily == 7);
    CHECK(g.retention.weekly == 4);
    CHECK(g.retention.monthly == 12);
    CHECK(g.retention.yearly == 3);
    CHECK(g.retention.last == 2);
    CHECK(g.created_at == a.created_at);
    CHECK(g.updated_at == a.updated_at);
    CHECK(g.next_run_at == a.next_run_at);
    CHECK(g.last_run_at == a.last_run_at);
    CHECK(g.last_success_at == a.last_success_at);
    CHECK(g.next_verify_at == a.next_verify_at);
    CHECK(to_string(g.health.status) == "ok");
    CHECK(g.health.checked_at == a.health.checked_at);
    CHECK(g.health.detail == "fine");
    REQUIRE(g.health.capabilities);
    CHECK(g.health.capabilities->at("version").as_string() == "v1");
  }
  SECTION("missing app is an empty optional, not an error") {
    auto got = s->get_app("nobody");
    REQUIRE(got.has_value());
    CHECK_FALSE(got->has_value());
    auto exists = s->app_exists("nobody");
    REQUIRE(exists.has_value());
    CHECK_FALSE(*exists);
  }
  SECTION("duplicate name is a conflict and keeps the first") {
    REQUIRE(s->insert_app(make_app("dup", "first-token")).has_value());
    CHECK(s->insert_app(make_app("dup", "second-token")).error().code == errc::conflict);
    CHECK(token_of(**s->get_app("dup")) == "first-token");
  }
  SECTION("list pages by name with an exclusive cursor") {
    for (const char* n : {"delta", "alpha", "echo", "charlie", "bravo"})
      REQUIRE(s->insert_app(make_app(n)).has_value());
    auto page = s->list_apps(2, "");
    REQUIRE(page.has_value());
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].name == "alpha");
    CHECK((*page)[1].name == "bravo");
    page = s->list_apps(2, "bravo");
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].name == "charlie");
    CHECK((*page)[1].name == "delta");
    page = s->list_apps(2, "delta");
    REQUIRE(page->size() == 1);
    CHECK((*page)[0].name == "echo");
    CHECK(s->list_apps(2, "echo")->empty());
    CHECK(s->list_apps(100, "")->size() == 5);
    // A cursor between names works too (the name was deleted meanwhile).
    page = s->list_apps(10, "c");
    REQUIRE(page->size() == 3);
    CHECK((*page)[0].name == "charlie");
  }
  SECTION("update replaces fields; missing app is not_found") {
    auto a = make_app("upd");
    REQUIRE(s->insert_app(a).has_value());
    a.url = "https://elsewhere:9443";
    set_token(a, "new-token");
    a.retention.daily = 1;
    a.next_run_at = at(1'800'000'000);
    REQUIRE(s->update_app(a).has_value());
    auto g = **s->get_app("upd");
    CHECK(g.url == "https://elsewhere:9443");
    CHECK(token_of(g) == "new-token");
    CHECK(g.retention.daily == 1);
    CHECK(g.next_run_at == at(1'800'000'000));
    a.next_run_at.reset();
    REQUIRE(s->update_app(a).has_value());
    CHECK_FALSE((*s->get_app("upd"))->next_run_at);
    CHECK(s->update_app(make_app("ghost")).error().code == errc::not_found);
    CHECK_FALSE(*s->app_exists("ghost"));
  }
  SECTION("delete removes the app but not its catalog") {
    REQUIRE(s->insert_app(make_app("gone")).has_value());
    auto b = make_backup("gb1", "gone");
    REQUIRE(s->insert_backup(b).has_value());
    REQUIRE(s->delete_app("gone").has_value());
    CHECK_FALSE(s->get_app("gone")->has_value());
    CHECK_FALSE(*s->app_exists("gone"));
    CHECK(s->delete_app("gone").error().code == errc::not_found);
    auto left = s->list_backups("gone", 10, std::nullopt);
    REQUIRE(left.has_value());
    CHECK(left->size() == 1);
  }
}

TEMPLATE_TEST_CASE("store jobs: sequence, filters, newest first, active job", "[store]",
                   sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();

  std::vector<job_record> jobs = {
      make_job("j1", "a", job_kind::backup, job_state::succeeded),
      make_job("j2", "b", job_kind::backup, job_state::queued),
      make_job("j3", "a", job_kind::verify, job_state::running),
      make_job("j4", "a", job_kind::backup, job_state::failed),
      make_job("j5", "a", job_kind::backup, job_state::queued),
      make_job("j6", "a", job_kind::backup, job_state::running),
  };
  std::int64_t last_seq = 0;
  for (auto& j : jobs) {
    REQUIRE(s->insert_job(j).has_value());
    CHECK(j.seq > last_seq);
    last_seq = j.seq;
  }

  SECTION("round trip of every field") {
    auto j = make_job("full", "a");
    j.trigger = job_trigger::schedule;
    j.phase = job_phase::uploading;
    j.bytes_done = 5'000'000'000ull;
    j.bytes_total = 6'000'000'000ull;
    j.attempt = 2;
    j.max_attempts = 5;
    j.started_at = at(1'700'000'300);
    j.next_attempt_at = at(1'700'000'900);
    j.error_code = "app_unreachable";
    j.error_message = "connect refused";
    j.backup_id = "b9";
    j.warnings = {"first", "second \"quoted\""};
    j.resume = R"({"session":"x"})";
    j.cancel_requested = true;
    REQUIRE(s->insert_job(j).has_value());
    auto g = **s->get_job("full");
    CHECK(g.seq == j.seq);
    CHECK(to_string(g.trigger) == "schedule");
    CHECK(g.state == job_state::queued);
    CHECK(to_string(g.phase) == "uploading");
    CHECK(g.bytes_done == 5'000'000'000ull);
    CHECK(g.bytes_total == 6'000'000'000ull);
    CHECK(g.attempt == 2);
    CHECK(g.max_attempts == 5);
    CHECK(g.created_at == j.created_at);
    CHECK(g.started_at == j.started_at);
    CHECK_FALSE(g.finished_at);
    CHECK(g.next_attempt_at == j.next_attempt_at);
    CHECK(g.error_code == "app_unreachable");
    CHECK(g.error_message == "connect refused");
    CHECK(g.backup_id == "b9");
    CHECK(g.warnings == std::vector<std::string>{"first", "second \"quoted\""});
    CHECK(g.resume == R"({"session":"x"})");
    CHECK(g.cancel_requested);
  }
  SECTION("duplicate id is a conflict") {
    auto dup = make_job("j1", "z");
    CHECK(s->insert_job(dup).error().code == errc::conflict);
    CHECK((*s->get_job("j1"))->app == "a");
  }
  SECTION("update and not_found") {
    auto j = **s->get_job("j5");
    j.state = job_state::running;
    j.phase = job_phase::exporting;
    j.bytes_done = 42;
    j.started_at = at(1'700'000'500);
    REQUIRE(s->update_job(j).has_value());
    auto g = **s->get_job("j5");
    CHECK(g.state == job_state::running);
    CHECK(to_string(g.phase) == "exporting");
    CHECK(g.bytes_done == 42);
    CHECK(g.started_at == at(1'700'000'500));
    CHECK(s->update_job(make_job("nope", "a")).error().code == errc::not_found);
    CHECK_FALSE(s->get_job("nope")->has_value());
  }
  SECTION("list newest first with filters and a seq cursor") {
    job_filter all;
    auto page = s->list_jobs(all);
    REQUIRE(page.has_value());
    REQUIRE(page->size() == 6);
    CHECK(page->front().id == "j6");
    CHECK(page->back().id == "j1");

    job_filter by_app;
    by_app.app = "a";
    by_app.limit = 2;
    page = s->list_jobs(by_app);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "j6");
    CHECK((*page)[1].id == "j5");
    by_app.before_seq = (*page)[1].seq;
    page = s->list_jobs(by_app);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "j4");
    CHECK((*page)[1].id == "j3");
    by_app.before_seq = (*page)[1].seq;
    page = s->list_jobs(by_app);
    REQUIRE(page->size() == 1);
    CHECK((*page)[0].id == "j1");

    job_filter queued;
    queued.state = job_state::queued;
    page = s->list_jobs(queued);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "j5");
    CHECK((*page)[1].id == "j2");

    job_filter verify;
    verify.kind = job_kind::verify;
    page = s->list_jobs(verify);
    REQUIRE(page->size() == 1);
    CHECK((*page)[0].id == "j3");

    job_filter none;
    none.app = "a";
    none.state = job_state::cancelled;
    CHECK(s->list_jobs(none)->empty());
  }
  SECTION("active job is the oldest queued or running one of that app and kind") {
    auto active = s->active_job("a", job_kind::backup);
    REQUIRE(active.has_value());
    REQUIRE(active->has_value());
    CHECK((*active)->id == "j5");
    active = s->active_job("a", job_kind::verify);
    REQUIRE(active->has_value());
    CHECK((*active)->id == "j3");
    active = s->active_job("b", job_kind::verify);
    REQUIRE(active.has_value());
    CHECK_FALSE(active->has_value());
    // Once finished, the next one is active.
    auto j5 = **s->get_job("j5");
    j5.state = job_state::cancelled;
    REQUIRE(s->update_job(j5).has_value());
    CHECK((*s->active_job("a", job_kind::backup))->id == "j6");
  }
  SECTION("jobs in a state, oldest first") {
    auto running = s->jobs_in_state(job_state::running);
    REQUIRE(running.has_value());
    REQUIRE(running->size() == 2);
    CHECK((*running)[0].id == "j3");
    CHECK((*running)[1].id == "j6");
  }
}

TEMPLATE_TEST_CASE("store backups: catalog round trip, newest first, statuses", "[store]",
                   sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    auto b = make_backup("b" + std::to_string(i), i == 3 ? "other" : "a");
    b.created_at = at(1'700'000'000 + i);
    if (i == 2) b.status = backup_status::missing;
    REQUIRE(s->insert_backup(b).has_value());
    CHECK(b.seq > 0);
  }

  SECTION("round trip") {
    auto b = make_backup("full", "a");
    b.md5 = std::string(32, 'c');
    b.verified_at = at(1'700'001'000);
    b.delete_attempts = 2;
    b.last_error = "quota";
    b.size = 7'000'000'000ull;
    REQUIRE(s->insert_backup(b).has_value());
    auto g = **s->get_backup("full");
    CHECK(g.seq == b.seq);
    CHECK(g.app == "a");
    CHECK(g.job_id == b.job_id);
    CHECK(g.size == 7'000'000'000ull);
    CHECK(g.sha256 == b.sha256);
    CHECK(g.md5 == b.md5);
    CHECK(g.format == "tar.gz");
    CHECK(to_string(g.storage) == "local");
    CHECK(g.location == b.location);
    CHECK(g.name == b.name);
    CHECK(g.folder == b.folder);
    CHECK(to_string(g.status) == "available");
    CHECK(g.verified_at == b.verified_at);
    CHECK(g.delete_attempts == 2);
    CHECK(g.last_error == "quota");
    CHECK_FALSE(g.mismatch);
  }
  SECTION("a corrupt backup keeps what its verification read back") {
    auto b = **s->get_backup("b4");
    b.status = backup_status::corrupt;
    b.mismatch = backup_mismatch{at(1'700'002'000), 12346, std::string(64, 'f')};
    REQUIRE(s->update_backup(b).has_value());
    auto g = **s->get_backup("b4");
    CHECK(g.status == backup_status::corrupt);
    REQUIRE(g.mismatch);
    CHECK(*g.mismatch == *b.mismatch);
    auto corrupt = s->backups_with_status(backup_status::corrupt);
    REQUIRE(corrupt->size() == 1);
    CHECK((*corrupt)[0].mismatch == b.mismatch);
    // Cleared again (a later verification passed).
    b.status = backup_status::available;
    b.mismatch.reset();
    REQUIRE(s->update_backup(b).has_value());
    CHECK_FALSE(s->get_backup("b4")->value().mismatch);
    auto fresh = make_backup("unv", "a");
    fresh.status = backup_status::unverified;
    REQUIRE(s->insert_backup(fresh).has_value());
    CHECK(s->get_backup("unv")->value().status == backup_status::unverified);
  }
  SECTION("list by app, newest first, seq cursor") {
    auto page = s->list_backups("a", 2, std::nullopt);
    REQUIRE(page.has_value());
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "b5");
    CHECK((*page)[1].id == "b4");
    page = s->list_backups("a", 2, (*page)[1].seq);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "b2");
    CHECK((*page)[1].id == "b1");
    CHECK(s->list_backups("a", 2, (*page)[1].seq)->empty());
    CHECK(s->list_backups("nobody", 10, std::nullopt)->empty());
  }
  SECTION("update, delete, not_found, conflict, by status") {
    auto b = **s->get_backup("b1");
    b.status = backup_status::deleting;
    b.delete_attempts = 1;
    REQUIRE(s->update_backup(b).has_value());
    auto deleting = s->backups_with_status(backup_status::deleting);
    REQUIRE(deleting.has_value());
    REQUIRE(deleting->size() == 1);
    CHECK((*deleting)[0].id == "b1");
    auto missing = s->backups_with_status(backup_status::missing);
    REQUIRE(missing->size() == 1);
    CHECK((*missing)[0].id == "b2");

    REQUIRE(s->delete_backup("b1").has_value());
    CHECK_FALSE(s->get_backup("b1")->has_value());
    CHECK(s->delete_backup("b1").error().code == errc::not_found);
    CHECK(s->update_backup(make_backup("zz", "a")).error().code == errc::not_found);
    auto dup = make_backup("b2", "a");
    CHECK(s->insert_backup(dup).error().code == errc::conflict);
  }
}

TEMPLATE_TEST_CASE("store apps: the last verify result round-trips and can be cleared", "[store]",
                   sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  auto a = make_app("checked");
  REQUIRE(s->insert_app(a).has_value());
  CHECK_FALSE(s->get_app("checked")->value().last_verify);
  a.last_verify = app_verify{verify_result::corrupt, at(1'700'003'000), "job1", "b1"};
  REQUIRE(s->update_app(a).has_value());
  auto g = **s->get_app("checked");
  REQUIRE(g.last_verify);
  CHECK(*g.last_verify == *a.last_verify);
  a.last_verify = app_verify{verify_result::missing, at(1'700'003'100), "job2", ""};
  REQUIRE(s->update_app(a).has_value());
  CHECK(s->get_app("checked")->value().last_verify == a.last_verify);
  a.last_verify.reset();
  REQUIRE(s->update_app(a).has_value());
  CHECK_FALSE(s->get_app("checked")->value().last_verify);
}

TEMPLATE_TEST_CASE(
    "store apps: an empty sealed token keeps the stored one and is refused on insert", "[store]",
    sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  auto a = make_app("keeps", "first-token");
  REQUIRE(s->insert_app(a).has_value());
  a.sealed_token.clear();
  a.url = "http://moved:8000";
  REQUIRE(s->update_app(a).has_value());
  auto g = **s->get_app("keeps");
  CHECK(g.url == "http://moved:8000");
  CHECK(token_of(g) == "first-token");
  CHECK(g.token.empty());  // plaintext is never stored

  auto unsealed = make_app("unsealed");
  unsealed.sealed_token.clear();
  auto inserted = s->insert_app(unsealed);
  REQUIRE_FALSE(inserted.has_value());
  CHECK(inserted.error().code == errc::store_error);
  CHECK_THAT(inserted.error().message, Catch::Contains("insert_app"));
  CHECK_FALSE(*s->app_exists("unsealed"));
}

TEMPLATE_TEST_CASE("store job views: each job with its backup and whether that is orphaned",
                   "[store]", sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  REQUIRE(s->insert_app(make_app("kept")).has_value());
  REQUIRE(s->insert_app(make_app("gone")).has_value());
  auto kept = make_backup("bk", "kept");
  auto gone = make_backup("bg", "gone");
  REQUIRE(s->insert_backup(kept).has_value());
  REQUIRE(s->insert_backup(gone).has_value());
  REQUIRE(s->delete_app("gone").has_value());

  std::vector<job_record> jobs = {make_job("j1", "kept"), make_job("j2", "gone"),
                                  make_job("j3", "kept"), make_job("j4", "kept")};
  jobs[0].backup_id = "bk";
  jobs[1].backup_id = "bg";
  jobs[2].backup_id = "deleted-since";
  for (auto& j : jobs) REQUIRE(s->insert_job(j).has_value());

  job_filter all;
  auto views = s->list_job_views(all);
  REQUIRE(views.has_value());
  REQUIRE(views->size() == 4);
  CHECK((*views)[0].job.id == "j4");
  CHECK_FALSE((*views)[0].backup);  // no backup
  CHECK((*views)[1].job.id == "j3");
  CHECK_FALSE((*views)[1].backup);  // its backup left the catalog
  CHECK((*views)[2].job.id == "j2");
  REQUIRE((*views)[2].backup);
  CHECK((*views)[2].backup->id == "bg");
  CHECK((*views)[2].backup_orphaned);
  CHECK((*views)[3].job.id == "j1");
  REQUIRE((*views)[3].backup);
  CHECK((*views)[3].backup->seq == kept.seq);
  CHECK((*views)[3].backup->location == kept.location);
  CHECK_FALSE((*views)[3].backup_orphaned);

  // The same filters and cursor as list_jobs.
  job_filter page;
  page.app = "kept";
  page.limit = 1;
  page.before_seq = jobs[2].seq;
  views = s->list_job_views(page);
  REQUIRE(views->size() == 1);
  CHECK((*views)[0].job.id == "j1");
  page.before_seq = jobs[0].seq;
  CHECK(s->list_job_views(page)->empty());

  // One job read the same way.
  auto one = s->get_job_view("j2");
  REQUIRE(one.has_value());
  REQUIRE(one->has_value());
  CHECK((*one)->job.id == "j2");
  REQUIRE((*one)->backup);
  CHECK((*one)->backup->id == "bg");
  CHECK((*one)->backup_orphaned);
  auto with_kept = s->get_job_view("j1");
  REQUIRE(with_kept.has_value());
  REQUIRE(with_kept->has_value());
  REQUIRE((*with_kept)->backup);
  CHECK((*with_kept)->backup->location == kept.location);
  CHECK_FALSE((*with_kept)->backup_orphaned);
  auto bare = s->get_job_view("j3");
  REQUIRE(bare.has_value());
  REQUIRE(bare->has_value());
  CHECK_FALSE((*bare)->backup);
  auto unknown = s->get_job_view("nope");
  REQUIRE(unknown.has_value());
  CHECK_FALSE(unknown->has_value());
}

TEMPLATE_TEST_CASE("store sequences are not reused after a delete", "[store]", sqlite_backend,
                   fake_backend) {
  TestType f;
  auto s = f.open();
  auto b1 = make_backup("b1", "a");
  auto b2 = make_backup("b2", "a");
  REQUIRE(s->insert_backup(b1).has_value());
  REQUIRE(s->insert_backup(b2).has_value());
  REQUIRE(s->delete_backup("b2").has_value());
  auto b3 = make_backup("b3", "a");
  REQUIRE(s->insert_backup(b3).has_value());
  CHECK(b3.seq > b2.seq);
  auto page = s->list_backups("a", 10, std::nullopt);
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].id == "b3");
  CHECK(s->healthy());
}

TEST_CASE("fake store fails the calls a test chooses with store_error", "[store][fake_store]") {
  fake_store s;
  auto j = make_job("j1", "a");
  s.fail_operation("insert_job");
  auto inserted = s.insert_job(j);
  REQUIRE_FALSE(inserted.has_value());
  CHECK(inserted.error().code == errc::store_error);
  CHECK_THAT(inserted.error().message, Catch::Contains("insert_job"));
  CHECK(j.seq == 0);
  CHECK_FALSE(s.get_job("j1")->has_value());  // nothing was written
  s.fail_when = [](std::string_view op) { return op == "healthy"; };
  CHECK_FALSE(s.healthy());
  s.heal();
  CHECK(s.healthy());
  REQUIRE(s.insert_job(j).has_value());
  CHECK(s.calls["insert_job"] == 2);
  CHECK(s.calls["get_job"] == 1);
}
