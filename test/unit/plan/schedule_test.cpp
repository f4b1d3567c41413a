#include "respaldo/plan/schedule.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <catch2/catch.hpp>
#include <set>

#include "respaldo/core/time_format.hpp"
#include "respaldo/plan/retention.hpp"
#include "support/time_values.hpp"

using namespace respaldo;
using namespace std::chrono_literals;
using respaldo::test::utc;
using respaldo::test::zone;

namespace {

cron_schedule cron(const char* expr) {
  auto c = cron_schedule::parse(expr);
  REQUIRE(c.has_value());
  return *c;
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

TEST_CASE("jitter offsets are stable per app and within bounds", "[schedule_plan]") {
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

TEST_CASE("next_fire_time adds the jitter offset after the cron time", "[schedule_plan]") {
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

TEST_CASE("plan_due: a new schedule is computed from now and does not run", "[schedule_plan]") {
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

TEST_CASE("plan_due: catch-up after downtime runs once, then counts from now", "[schedule_plan]") {
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

TEST_CASE("plan_due: the next wake is the nearest app, runs in order", "[schedule_plan]") {
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

TEST_CASE("plan_due: due runs of one wake are ordered, and both kinds are planned",
          "[schedule_plan]") {
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

TEST_CASE("plan_due: a removed schedule clears its next time", "[schedule_plan]") {
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

TEST_CASE("plan_due: jitter moves every run by the app's offset", "[schedule_plan]") {
  auto e = entry("mi-app", "0 3 * * *");
  e.offset = jitter_offset("mi-app", 3600s);
  REQUIRE(e.offset > 0s);
  const auto fired = simulate({e}, utc("2026-06-01T00:00:00Z"), utc("2026-06-03T23:59:00Z"));
  REQUIRE(fired.size() == 3);
  for (std::size_t i = 0; i < fired.size(); ++i)
    CHECK(fired[i] == utc("2026-06-01T03:00:00Z") + date::days(i) + e.offset);
}

TEST_CASE("DST in America/New_York: the gap fires at its end, the overlap once",
          "[schedule_plan]") {
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

TEST_CASE("DST in Europe/Berlin: the gap fires at its end, the overlap once", "[schedule_plan]") {
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

TEST_CASE("decide_run: overlap and verification without backups are skipped", "[schedule_plan]") {
  CHECK(decide_run(schedule_kind::backup, false, false) == run_decision::start);
  CHECK(decide_run(schedule_kind::backup, true, true) == run_decision::skip_overlap);
  CHECK(decide_run(schedule_kind::verify, false, true) == run_decision::start);
  CHECK(decide_run(schedule_kind::verify, false, false) == run_decision::skip_no_backup);
  CHECK(decide_run(schedule_kind::verify, true, false) == run_decision::skip_overlap);
}
