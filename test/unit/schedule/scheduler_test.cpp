#include "respaldo/schedule/scheduler.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <sstream>

#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "support/async_test.hpp"
#include "support/manual_clock.hpp"
#include "support/time_values.hpp"

using namespace respaldo;
using namespace std::chrono_literals;
using respaldo::test::utc;
using respaldo::test::zone;

TEST_CASE("make_schedule_entry resolves the zone and the jitter", "[scheduler]") {
  app_record a;
  a.name = "mi-app";
  a.schedule = "0 3 * * *";
  scheduler_options o;
  o.default_timezone = "Europe/Madrid";
  o.jitter = 600s;
  auto e = make_schedule_entry(a, o);
  CHECK(e.tz == zone("Europe/Madrid"));
  CHECK(e.backup);
  CHECK_FALSE(e.verify);
  CHECK(e.offset == jitter_offset("mi-app", 600s));
  a.timezone = "America/New_York";
  a.verify_schedule = "0 5 * * 0";
  e = make_schedule_entry(a, o);
  CHECK(e.tz == zone("America/New_York"));
  CHECK(e.verify);
  a.timezone = "Not/AZone";  // cannot be registered; falls back to the server's zone
  CHECK(make_schedule_entry(a, o).tz == zone("Europe/Madrid"));
}

// ---- the scheduler on a real store and a manual clock -------------------------------------

namespace {

using test::manual_clock;

struct fixture {
  std::filesystem::path dir;
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  secret_box box = secret_box::generate();
  std::unique_ptr<store> db;
  metrics stats;
  boost::asio::io_context io;
  manual_clock clock{sys_seconds{}};
  std::vector<job_record> queued;  // what the scheduler enqueued
  int next_id = 0;

  explicit fixture(sys_seconds now) : clock(now) {
    dir = std::filesystem::temp_directory_path() /
          ("respaldo-sched-" + std::to_string(::getpid()) + "-" + random_token(6));
    std::filesystem::create_directories(dir);
    auto opened = make_sqlite_store((dir / "respaldo.db").string(), log);
    REQUIRE(opened);
    db = std::move(*opened);
  }
  ~fixture() {
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  enqueue_function enqueue() {
    return
        [this](const app_record& app, job_kind kind, job_trigger trigger) -> outcome<job_record> {
          job_record j;
          j.id = "job-" + std::to_string(++next_id);
          j.app = app.name;
          j.kind = kind;
          j.trigger = trigger;
          j.state = job_state::queued;
          j.created_at = clock.now();
          if (!db->insert_job(j))
            return failure{make_error_code(errc::store_error), "insert failed"};
          queued.push_back(j);
          return j;
        };
  }

  std::unique_ptr<scheduler> make(scheduler_options o = {}) {
    return std::make_unique<scheduler>(io.get_executor(), *db, enqueue(), clock, o, log, stats);
  }

  void add_app(const std::string& name, const std::string& schedule,
               std::optional<sys_seconds> next_run_at = std::nullopt,
               const std::string& verify = "") {
    app_record a;
    a.name = name;
    a.url = "http://127.0.0.1:1";
    a.sealed_token = box.seal("app-token", name);
    a.schedule = schedule;
    a.verify_schedule = verify;
    a.retention.daily = 7;
    a.created_at = a.updated_at = clock.now();
    a.next_run_at = next_run_at;
    REQUIRE(db->insert_app(a).has_value());
  }

  app_record app(const std::string& name) {
    auto a = db->get_app(name);
    REQUIRE(a);
    REQUIRE(*a);
    return **a;
  }

  void finish(const std::string& job_id, job_state state) {
    auto j = db->get_job(job_id);
    REQUIRE(j);
    REQUIRE(*j);
    auto job = **j;
    job.state = state;
    job.started_at = clock.now();
    job.finished_at = clock.now();
    REQUIRE(db->update_job(job).has_value());
  }

  std::vector<job_record> jobs(const std::string& app) {
    job_filter f;
    f.app = app;
    f.limit = 100;
    auto all = db->list_jobs(f);
    REQUIRE(all);
    return *all;
  }
};

}  // namespace

TEST_CASE("scheduler: catch-up at start-up queues one scheduled job", "[scheduler]") {
  fixture f(utc("2026-06-01T08:17:00Z"));
  f.add_app("mi-app", "0 * * * *", utc("2026-06-01T03:00:00Z"));  // five hours missed
  f.add_app("later", "0 23 * * *", utc("2026-06-01T23:00:00Z"));
  auto s = f.make();
  auto wake = s->tick();
  REQUIRE(f.queued.size() == 1);
  CHECK(f.queued[0].app == "mi-app");
  CHECK(to_string(f.queued[0].kind) == "backup");
  CHECK(to_string(f.queued[0].trigger) == "schedule");
  CHECK(f.app("mi-app").next_run_at == utc("2026-06-01T09:00:00Z"));
  CHECK(f.app("later").next_run_at == utc("2026-06-01T23:00:00Z"));
  CHECK(wake == utc("2026-06-01T09:00:00Z"));
  CHECK(s->next_wake() == wake);

  // Waking again before the next slot starts nothing more.
  f.clock.advance(30min);
  s->tick();
  CHECK(f.queued.size() == 1);
  CHECK(
      f.stats.render().find(R"(respaldo_schedule_runs_total{kind="backup",outcome="started"} 1)") !=
      std::string::npos);
}

TEST_CASE("scheduler: a run due while the previous job is active is skipped and recorded",
          "[scheduler]") {
  fixture f(utc("2026-06-01T08:59:00Z"));
  f.add_app("mi-app", "0 * * * *");
  auto s = f.make();
  CHECK(s->tick() == utc("2026-06-01T09:00:00Z"));
  CHECK(f.queued.empty());

  f.clock.set(utc("2026-06-01T09:00:00Z"));
  s->tick();
  REQUIRE(f.queued.size() == 1);
  const auto first = f.queued[0].id;

  // 10:00: the 09:00 job is still queued (e.g. the runner is busy): no second job.
  f.clock.set(utc("2026-06-01T10:00:00Z"));
  s->tick();
  CHECK(f.queued.size() == 1);
  auto jobs = f.jobs("mi-app");
  REQUIRE(jobs.size() == 2);
  const auto& skipped = jobs[0];  // newest first
  CHECK(skipped.id != first);
  CHECK(to_string(skipped.kind) == "backup");
  CHECK(to_string(skipped.trigger) == "schedule");
  CHECK(skipped.state == job_state::cancelled);
  CHECK(skipped.error_code == "schedule_overlap");
  CHECK(skipped.error_message.find(first) != std::string::npos);
  CHECK(skipped.error_message.find("2026-06-01T10:00:00Z") != std::string::npos);
  CHECK(skipped.attempt == 0);
  CHECK(f.stats.render().find(
            R"(respaldo_schedule_runs_total{kind="backup",outcome="skipped_overlap"} 1)") !=
        std::string::npos);
  CHECK(f.log_text.str().find("scheduled run skipped") != std::string::npos);
  CHECK(f.app("mi-app").next_run_at == utc("2026-06-01T11:00:00Z"));

  // Once that job ended, the next slot runs again.
  f.finish(first, job_state::succeeded);
  f.clock.set(utc("2026-06-01T11:00:00Z"));
  s->tick();
  CHECK(f.queued.size() == 2);
}

TEST_CASE("scheduler: app changes recompute the next run at once", "[scheduler]") {
  fixture f(utc("2026-06-01T12:00:00Z"));
  f.add_app("a", "0 3 * * *");
  auto s = f.make();
  s->tick();
  CHECK(f.app("a").next_run_at == utc("2026-06-02T03:00:00Z"));

  // A new app gets its next_run_at when app_changed returns (the API shows it at once).
  f.add_app("b", "30 12 * * *");
  s->app_changed("b");
  CHECK(f.app("b").next_run_at == utc("2026-06-01T12:30:00Z"));
  CHECK(s->next_wake() == utc("2026-06-01T12:30:00Z"));

  // A patched schedule (the API clears next_run_at) moves it.
  auto b = f.app("b");
  b.schedule = "0 18 * * *";
  b.timezone = "Europe/Berlin";
  b.next_run_at.reset();
  REQUIRE(f.db->update_app(b).has_value());
  s->app_changed("b");
  CHECK(f.app("b").next_run_at == utc("2026-06-01T16:00:00Z"));
  CHECK(s->next_wake() == utc("2026-06-01T16:00:00Z"));

  // A deleted app no longer sets the wake time.
  REQUIRE(f.db->delete_app("b").has_value());
  s->app_changed("b");
  CHECK(s->next_wake() == utc("2026-06-02T03:00:00Z"));
  f.clock.set(utc("2026-06-01T16:00:00Z"));
  s->tick();
  CHECK(f.queued.empty());
}

TEST_CASE("scheduler: jitter is applied to the persisted next_run_at", "[scheduler]") {
  fixture f(utc("2026-06-01T12:00:00Z"));
  f.add_app("mi-app", "0 3 * * *");
  scheduler_options o;
  o.jitter = 1800s;
  auto s = f.make(o);
  s->tick();
  const auto off = jitter_offset("mi-app", 1800s);
  CHECK(f.app("mi-app").next_run_at == utc("2026-06-02T03:00:00Z") + off);
  f.clock.set(utc("2026-06-02T03:00:00Z") + off - 1s);
  s->tick();
  CHECK(f.queued.empty());
  f.clock.advance(1s);
  s->tick();
  CHECK(f.queued.size() == 1);
}

TEST_CASE("scheduler: verify_schedule queues verify jobs, not without a backup", "[scheduler]") {
  fixture f(utc("2026-06-01T04:59:00Z"));
  f.add_app("mi-app", "0 3 1 1 *", std::nullopt, "0 5 * * *");  // backups once a year
  auto s = f.make();
  s->tick();
  CHECK(f.app("mi-app").next_verify_at == utc("2026-06-01T05:00:00Z"));

  f.clock.set(utc("2026-06-01T05:00:00Z"));
  s->tick();
  CHECK(f.queued.empty());  // no backup yet
  CHECK(f.jobs("mi-app").empty());
  CHECK(f.stats.render().find(
            R"(respaldo_schedule_runs_total{kind="verify",outcome="skipped_no_backup"} 1)") !=
        std::string::npos);
  CHECK(f.app("mi-app").next_verify_at == utc("2026-06-02T05:00:00Z"));

  backup_record b;
  b.id = "b1";
  b.app = "mi-app";
  b.job_id = "j0";
  b.created_at = f.clock.now();
  b.size = 1;
  b.sha256 = std::string(64, '0');
  b.format = "tar";
  b.storage = storage_kind::local;
  b.location = "mi-app/x.tar";
  b.name = "x.tar";
  REQUIRE(f.db->insert_backup(b).has_value());
  f.clock.set(utc("2026-06-02T05:00:00Z"));
  s->tick();
  REQUIRE(f.queued.size() == 1);
  CHECK(to_string(f.queued[0].kind) == "verify");
  CHECK(to_string(f.queued[0].trigger) == "schedule");
  CHECK(f.app("mi-app").next_verify_at == utc("2026-06-03T05:00:00Z"));
}

TEST_CASE("scheduler: finished backup jobs set last_run_at and last_success_at", "[scheduler]") {
  fixture f(utc("2026-06-01T12:00:00Z"));
  f.add_app("mi-app", "0 3 * * *");
  auto s = f.make();
  s->tick();

  job_record j;
  j.id = "j1";
  j.app = "mi-app";
  j.kind = job_kind::backup;
  j.state = job_state::failed;
  j.started_at = utc("2026-06-01T12:00:05Z");
  j.finished_at = utc("2026-06-01T12:01:00Z");
  s->job_finished(j);
  auto a = f.app("mi-app");
  CHECK(a.last_run_at == utc("2026-06-01T12:00:05Z"));
  CHECK_FALSE(a.last_success_at);
  CHECK(a.next_run_at == utc("2026-06-02T03:00:00Z"));  // left alone

  j.id = "j2";
  j.state = job_state::succeeded;
  j.started_at = utc("2026-06-01T13:00:00Z");
  j.finished_at = utc("2026-06-01T13:02:00Z");
  s->job_finished(j);
  a = f.app("mi-app");
  CHECK(a.last_run_at == utc("2026-06-01T13:00:00Z"));
  CHECK(a.last_success_at == utc("2026-06-01T13:02:00Z"));

  // A job cancelled before it started, a verify job, and an older job change nothing.
  job_record never;
  never.id = "j3";
  never.app = "mi-app";
  never.kind = job_kind::backup;
  never.state = job_state::cancelled;
  s->job_finished(never);
  job_record verify = j;
  verify.id = "j4";
  verify.kind = job_kind::verify;
  verify.started_at = utc("2026-06-01T14:00:00Z");
  verify.finished_at = utc("2026-06-01T14:00:10Z");
  s->job_finished(verify);
  job_record older = j;
  older.id = "j5";
  older.started_at = utc("2026-06-01T10:00:00Z");
  older.finished_at = utc("2026-06-01T10:00:30Z");
  s->job_finished(older);
  a = f.app("mi-app");
  CHECK(a.last_run_at == utc("2026-06-01T13:00:00Z"));
  CHECK(a.last_success_at == utc("2026-06-01T13:02:00Z"));

  // An app deleted meanwhile is not recreated.
  REQUIRE(f.db->delete_app("mi-app").has_value());
  s->job_finished(j);
  auto gone = f.db->get_app("mi-app");
  REQUIRE(gone);
  CHECK_FALSE(*gone);
}

TEST_CASE("scheduler: after stop() nothing is queued", "[scheduler]") {
  fixture f(utc("2026-06-01T08:00:00Z"));
  f.add_app("mi-app", "0 * * * *", utc("2026-06-01T07:00:00Z"));
  auto s = f.make();
  s->stop();
  CHECK_FALSE(s->tick());
  CHECK(f.queued.empty());
}
