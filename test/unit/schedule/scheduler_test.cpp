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

using namespace respaldo;
using namespace std::chrono_literals;

namespace {

sys_seconds utc(const char* text) {
  auto t = parse_rfc3339(text);
  REQUIRE(t);
  return *t;
}

cron_schedule cron(const char* expr) {
  auto c = cron_schedule::parse(expr);
  REQUIRE(c.has_value());
  return *c;
}

const date::time_zone* zone(const char* name) {
  auto z = find_time_zone(name);
  REQUIRE(z != nullptr);
  return z;
}

schedule_entry entry(std::string app, const char* expr, const date::time_zone* tz = nullptr) {
  schedule_entry e;
  e.app = std::move(app);
  e.backup = cron(expr);
  e.tz = tz;
  return e;
}

void apply_changes(std::vector<schedule_entry>& entries, const schedule_plan& plan) {
  for (const auto& c : plan.changes)
    for (auto& e : entries)
      if (e.app == c.app)
        (c.kind == schedule_kind::backup ? e.next_run_at : e.next_verify_at) = c.next;
}

// Steps the planner the way the timer does: wake at next_wake, start what is due, repeat.
// Returns the instants at which runs were started.
std::vector<sys_seconds> simulate(std::vector<schedule_entry> entries, sys_seconds from,
                                  sys_seconds until, std::chrono::seconds lateness = 0s) {
  std::vector<sys_seconds> fired;
  auto now = from;
  for (int guard = 0; guard < 10000 && now <= until; ++guard) {
    auto plan = plan_due(entries, now);
    for (std::size_t i = 0; i < plan.due.size(); ++i) fired.push_back(now);
    apply_changes(entries, plan);
    if (!plan.next_wake) break;
    REQUIRE(*plan.next_wake > now);
    now = *plan.next_wake + lateness;
  }
  return fired;
}

std::vector<std::string> texts(const std::vector<sys_seconds>& ts) {
  std::vector<std::string> out;
  for (auto t : ts) out.push_back(format_rfc3339_utc(t));
  return out;
}

}  // namespace

TEST_CASE("jitter offsets are stable per app and within bounds", "[scheduler]") {
  CHECK(jitter_offset("mi-app", 0s) == 0s);
  CHECK(jitter_offset("mi-app", -5s) == 0s);
  CHECK(jitter_offset("", 600s) >= 0s);

  std::set<std::int64_t> distinct;
  for (int i = 0; i < 200; ++i) {
    const auto name = "app-" + std::to_string(i);
    const auto off = jitter_offset(name, 900s);
    CHECK(off >= 0s);
    CHECK(off < 900s);
    CHECK(jitter_offset(name, 900s) == off);  // same input, same offset
    distinct.insert(off.count());
  }
  // Spread: 200 names over 900 slots land on many different offsets.
  CHECK(distinct.size() > 150);
  // A one-second jitter leaves no room: always 0.
  CHECK(jitter_offset("mi-app", 1s) == 0s);
  // Known value (FNV-1a 64 of "mi-app" modulo 3600), so a change of hash shows up here.
  const auto known = jitter_offset("mi-app", 3600s);
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : std::string("mi-app")) h = (h ^ c) * 1099511628211ull;
  CHECK(known.count() == static_cast<std::int64_t>(h % 3600));
}

TEST_CASE("next_fire_time adds the jitter offset after the cron time", "[scheduler]") {
  const auto c = cron("0 3 * * *");
  CHECK(next_fire_time(c, nullptr, 0s, utc("2026-06-01T02:59:59Z")) == utc("2026-06-01T03:00:00Z"));
  CHECK(next_fire_time(c, nullptr, 0s, utc("2026-06-01T03:00:00Z")) == utc("2026-06-02T03:00:00Z"));
  // With a 10-minute offset, 03:05 is still before the jittered 03:10 of the same day.
  CHECK(next_fire_time(c, nullptr, 600s, utc("2026-06-01T03:05:00Z")) ==
        utc("2026-06-01T03:10:00Z"));
  CHECK(next_fire_time(c, nullptr, 600s, utc("2026-06-01T03:10:00Z")) ==
        utc("2026-06-02T03:10:00Z"));
  CHECK_FALSE(next_fire_time(cron("0 0 30 2 *"), nullptr, 0s, utc("2026-06-01T00:00:00Z")));
}

TEST_CASE("plan_due: a new schedule is computed from now and does not run", "[scheduler]") {
  std::vector<schedule_entry> entries{entry("a", "0 3 * * *")};
  const auto now = utc("2026-06-01T12:00:00Z");
  auto plan = plan_due(entries, now);
  CHECK(plan.due.empty());
  REQUIRE(plan.changes.size() == 1);
  CHECK(plan.changes[0].app == "a");
  CHECK(plan.changes[0].kind == schedule_kind::backup);
  CHECK(plan.changes[0].next == utc("2026-06-02T03:00:00Z"));
  CHECK(plan.next_wake == utc("2026-06-02T03:00:00Z"));

  // Once persisted, nothing changes until it is due.
  apply_changes(entries, plan);
  auto again = plan_due(entries, now + 3600s);
  CHECK(again.due.empty());
  CHECK(again.changes.empty());
  CHECK(again.next_wake == utc("2026-06-02T03:00:00Z"));
}

TEST_CASE("plan_due: catch-up after downtime runs once, then counts from now", "[scheduler]") {
  auto e = entry("a", "0 * * * *");  // hourly
  e.next_run_at = utc("2026-06-01T03:00:00Z");
  const auto now = utc("2026-06-01T08:17:00Z");  // five hourly slots were missed
  auto plan = plan_due({e}, now);
  REQUIRE(plan.due.size() == 1);
  CHECK(plan.due[0].app == "a");
  CHECK(plan.due[0].due_at == utc("2026-06-01T03:00:00Z"));
  REQUIRE(plan.changes.size() == 1);
  CHECK(plan.changes[0].next == utc("2026-06-01T09:00:00Z"));
  CHECK(plan.next_wake == utc("2026-06-01T09:00:00Z"));

  // A second wake at the same instant finds nothing due.
  std::vector<schedule_entry> entries{e};
  apply_changes(entries, plan);
  CHECK(plan_due(entries, now).due.empty());

  // Due exactly now counts as due.
  e.next_run_at = now;
  CHECK(plan_due({e}, now).due.size() == 1);
}

TEST_CASE("plan_due: the next wake is the nearest app, runs in order", "[scheduler]") {
  std::vector<schedule_entry> entries{entry("daily", "0 3 * * *"), entry("hourly", "15 * * * *"),
                                      entry("berlin", "0 4 * * *", zone("Europe/Berlin"))};
  const auto start = utc("2026-06-01T00:20:00Z");
  auto plan = plan_due(entries, start);
  CHECK(plan.next_wake == utc("2026-06-01T01:15:00Z"));  // the hourly one
  apply_changes(entries, plan);
  CHECK(entries[2].next_run_at == utc("2026-06-01T02:00:00Z"));  // 04:00 CEST

  std::vector<std::pair<std::string, std::string>> order;
  auto now = *plan.next_wake;
  while (now <= utc("2026-06-01T03:30:00Z")) {
    auto p = plan_due(entries, now);
    for (const auto& d : p.due) order.emplace_back(d.app, format_rfc3339_utc(now));
    apply_changes(entries, p);
    now = *p.next_wake;
  }
  const std::vector<std::pair<std::string, std::string>> expected{
      {"hourly", "2026-06-01T01:15:00Z"},
      {"berlin", "2026-06-01T02:00:00Z"},
      {"hourly", "2026-06-01T02:15:00Z"},
      {"daily", "2026-06-01T03:00:00Z"},
      {"hourly", "2026-06-01T03:15:00Z"}};
  CHECK(order == expected);
}

TEST_CASE("plan_due: due runs of one wake are ordered, and both kinds are planned", "[scheduler]") {
  auto a = entry("b-app", "0 3 * * *");
  a.verify = cron("0 5 * * 0");
  a.next_run_at = utc("2026-06-01T03:00:00Z");
  a.next_verify_at = utc("2026-05-31T05:00:00Z");
  auto b = entry("a-app", "0 3 * * *");
  b.next_run_at = utc("2026-06-01T03:00:00Z");
  auto plan = plan_due({a, b}, utc("2026-06-01T03:00:05Z"));
  REQUIRE(plan.due.size() == 3);
  CHECK(plan.due[0].app == "b-app");
  CHECK(plan.due[0].kind == schedule_kind::verify);  // the oldest due time first
  CHECK(plan.due[1].app == "a-app");
  CHECK(plan.due[2].app == "b-app");
  CHECK(plan.due[2].kind == schedule_kind::backup);
  CHECK(plan.next_wake == utc("2026-06-02T03:00:00Z"));
  bool verify_moved = false;
  for (const auto& c : plan.changes)
    if (c.app == "b-app" && c.kind == schedule_kind::verify)
      verify_moved = c.next == utc("2026-06-07T05:00:00Z");
  CHECK(verify_moved);
}

TEST_CASE("plan_due: a removed schedule clears its next time", "[scheduler]") {
  schedule_entry e;
  e.app = "a";
  e.next_run_at = utc("2026-06-01T03:00:00Z");
  e.next_verify_at = utc("2026-06-01T04:00:00Z");
  auto plan = plan_due({e}, utc("2026-06-01T05:00:00Z"));
  CHECK(plan.due.empty());
  CHECK(plan.changes.size() == 2);
  for (const auto& c : plan.changes) CHECK_FALSE(c.next);
  CHECK_FALSE(plan.next_wake);
}

TEST_CASE("plan_due: jitter moves every run by the app's offset", "[scheduler]") {
  auto e = entry("mi-app", "0 3 * * *");
  e.offset = jitter_offset("mi-app", 3600s);
  REQUIRE(e.offset > 0s);
  const auto fired = simulate({e}, utc("2026-06-01T00:00:00Z"), utc("2026-06-03T23:59:00Z"));
  REQUIRE(fired.size() == 3);
  for (std::size_t i = 0; i < fired.size(); ++i)
    CHECK(fired[i] == utc("2026-06-01T03:00:00Z") + date::days(i) + e.offset);
}

TEST_CASE("DST in America/New_York: the gap fires at its end, the overlap once", "[scheduler]") {
  const auto ny = zone("America/New_York");
  SECTION("spring forward: 02:30 does not exist on 2026-03-08") {
    auto fired = simulate({entry("a", "30 2 * * *", ny)}, utc("2026-03-06T12:00:00Z"),
                          utc("2026-03-09T12:00:00Z"));
    CHECK(texts(fired) == std::vector<std::string>{"2026-03-07T07:30:00Z",    // 02:30 EST
                                                   "2026-03-08T07:00:00Z",    // 03:00 EDT
                                                   "2026-03-09T06:30:00Z"});  // 02:30 EDT
  }
  SECTION("fall back: 01:30 happens twice on 2026-11-01 and fires once") {
    auto fired = simulate({entry("a", "30 1 * * *", ny)}, utc("2026-10-31T00:00:00Z"),
                          utc("2026-11-02T12:00:00Z"));
    CHECK(texts(fired) == std::vector<std::string>{"2026-10-31T05:30:00Z",    // 01:30 EDT
                                                   "2026-11-01T05:30:00Z",    // first 01:30
                                                   "2026-11-02T06:30:00Z"});  // 01:30 EST
  }
  SECTION("a late timer does not add runs across the overlap") {
    auto fired = simulate({entry("a", "30 1 * * *", ny)}, utc("2026-10-31T00:00:00Z"),
                          utc("2026-11-02T12:00:00Z"), 1800s);
    CHECK(fired.size() == 3);
    CHECK(fired[1] == utc("2026-11-01T06:00:00Z"));  // 30 min late, still once
  }
}

TEST_CASE("DST in Europe/Berlin: the gap fires at its end, the overlap once", "[scheduler]") {
  const auto berlin = zone("Europe/Berlin");
  SECTION("spring forward: 02:30 does not exist on 2026-03-29") {
    auto fired = simulate({entry("a", "30 2 * * *", berlin)}, utc("2026-03-27T12:00:00Z"),
                          utc("2026-03-30T12:00:00Z"));
    CHECK(texts(fired) == std::vector<std::string>{"2026-03-28T01:30:00Z",    // 02:30 CET
                                                   "2026-03-29T01:00:00Z",    // 03:00 CEST
                                                   "2026-03-30T00:30:00Z"});  // 02:30 CEST
  }
  SECTION("fall back: 02:30 happens twice on 2026-10-25 and fires once") {
    auto fired = simulate({entry("a", "30 2 * * *", berlin)}, utc("2026-10-23T12:00:00Z"),
                          utc("2026-10-26T12:00:00Z"));
    CHECK(texts(fired) == std::vector<std::string>{"2026-10-24T00:30:00Z",    // 02:30 CEST
                                                   "2026-10-25T00:30:00Z",    // first 02:30
                                                   "2026-10-26T01:30:00Z"});  // 02:30 CET
  }
  SECTION("an hourly schedule on the fall-back day runs 24 times, not 25") {
    auto fired = simulate({entry("a", "0 * * * *", berlin)}, utc("2026-10-24T21:59:00Z"),
                          utc("2026-10-25T22:59:00Z"));
    // Local 2026-10-25 00:00 CEST (22:00Z the day before) to 23:00 CET (22:00Z).
    CHECK(fired.size() == 24);
  }
}

TEST_CASE("decide_run: overlap and verification without backups are skipped", "[scheduler]") {
  CHECK(decide_run(schedule_kind::backup, false, false) == run_decision::start);
  CHECK(decide_run(schedule_kind::backup, true, true) == run_decision::skip_overlap);
  CHECK(decide_run(schedule_kind::verify, false, true) == run_decision::start);
  CHECK(decide_run(schedule_kind::verify, false, false) == run_decision::skip_no_backup);
  CHECK(decide_run(schedule_kind::verify, true, false) == run_decision::skip_overlap);
}

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

class manual_clock final : public wall_clock {
 public:
  explicit manual_clock(sys_seconds t) : t_(t) {}
  sys_seconds now() const override { return t_; }
  void set(sys_seconds t) { t_ = t; }
  void advance(std::chrono::seconds d) { t_ += d; }

 private:
  sys_seconds t_;
};

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
    return [this](const app_record& app, std::string_view kind,
                  std::string_view trigger) -> outcome<job_record> {
      job_record j;
      j.id = "job-" + std::to_string(++next_id);
      j.app = app.name;
      j.kind = parse_job_kind(kind).value_or(job_kind::backup);
      j.trigger = parse_job_trigger(trigger).value_or(job_trigger::manual);
      j.state = job_state::queued;
      j.created_at = clock.now();
      if (!db->insert_job(j)) return failure{make_error_code(errc::store_error), "insert failed"};
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
