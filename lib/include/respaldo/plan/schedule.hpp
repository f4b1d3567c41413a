// The schedule plan: which runs are due at a wake-up and every app's next fire times. Pure: the
// time is an argument, no clock and no I/O (the scheduler applies the plan).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/domain/job.hpp"
#include "respaldo/plan/cron.hpp"

namespace date {
class time_zone;
}

namespace respaldo {

using sys_seconds = std::chrono::sys_seconds;

// What a schedule starts: the app's `schedule` backups, its `verify_schedule` verifications.
using schedule_kind = job_kind;

// Fixed per-app offset in [0, jitter): FNV-1a of the name modulo the jitter in whole seconds.
// Zero when jitter is under one second.
std::chrono::seconds jitter_offset(std::string_view app, std::chrono::seconds jitter);

// First fire time strictly after `after`: the first cron time t with t + offset > after, plus
// the offset. nullopt when the expression never fires again.
std::optional<sys_seconds> next_fire_time(const cron_schedule& cron, const date::time_zone* tz,
                                          std::chrono::seconds offset, sys_seconds after);

// One app as the planner sees it.
struct schedule_entry {
  std::string app;
  std::optional<cron_schedule> backup;  // the app's schedule, if any
  std::optional<cron_schedule> verify;  // the app's verify_schedule, if any
  const date::time_zone* tz = nullptr;  // nullptr: UTC
  std::chrono::seconds offset{0};       // jitter_offset of the app
  std::optional<sys_seconds> next_run_at;
  std::optional<sys_seconds> next_verify_at;
};

struct due_run {
  std::string app;
  schedule_kind kind = schedule_kind::backup;
  sys_seconds due_at{};  // the persisted time that came due
};

struct next_time_change {
  std::string app;
  schedule_kind kind = schedule_kind::backup;
  std::optional<sys_seconds> next;  // the new next_run_at / next_verify_at
};

struct schedule_plan {
  std::vector<due_run> due;               // ordered by due_at, then app, backups first
  std::vector<next_time_change> changes;  // only times that differ from the entries'
  std::optional<sys_seconds> next_wake;   // earliest next time after the changes
};

// The whole decision of one wake-up at `now`: which runs are due and every app's next times.
// Pure: no clock, no I/O.
schedule_plan plan_due(const std::vector<schedule_entry>& entries, sys_seconds now);

enum class run_decision { start, skip_overlap, skip_no_backup };
// What to do with a due run, given whether a job of that kind is active and whether the app has
// any backup (verification only).
run_decision decide_run(schedule_kind kind, bool job_active, bool has_backup);

}  // namespace respaldo
