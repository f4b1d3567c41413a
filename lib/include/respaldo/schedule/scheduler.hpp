// The scheduler: starts each app's `schedule` (backup jobs) and `verify_schedule` (verify jobs)
// at their fire times, with one timer armed for the nearest one.
//
// Decision logic is sans-io (plan_due and the helpers below) and takes the time as an argument;
// the scheduler class applies it to the store and the job queue, and reads the time from an
// injected wall_clock, so tests step it through days and DST changes without sleeping.
//
// Rules:
// - Fire times come from cron_schedule::next_after in the app's IANA zone (`timezone`, or the
//   server's --timezone), with its DST rules: a time in a spring-forward gap fires at the end of
//   the gap; a time that occurs twice fires once, at its first occurrence.
// - Jitter: with --schedule-jitter J > 0 every fire time of an app is moved later by a fixed offset
//   in [0, J), a hash of the app's name (FNV-1a), so apps sharing a schedule spread out and a
//   given app always starts at the same time. next_run_at includes the offset.
// - next_run_at / next_verify_at are persisted. When one is unset (new app, changed schedule or
//   zone), it is computed from now and nothing runs. When it is at or before now, one run is due
//   and the next time is computed from now: after downtime an app runs once, however many fire
//   times were missed (catch-up).
// - No overlap: a due run of an app whose job of the same kind is still queued or running is
//   skipped. The skip is recorded as a job of that kind with trigger "schedule", state
//   "cancelled" and error code "schedule_overlap" (the message names the active job), plus a
//   warning log line and respaldo_schedule_runs_total{outcome="skipped_overlap"}.
// - A due verification of an app without any backup is skipped (log line and
//   respaldo_schedule_runs_total{outcome="skipped_no_backup"}); no job is recorded.
// - last_run_at is the start of the last attempt of the app's latest finished backup job (manual
//   or scheduled, whatever its outcome), and last_success_at the end of its latest successful
//   backup job; both are written when the job reaches its final state (job_finished). A job
//   cancelled before it started leaves them alone.
// - The timer wait is capped (scheduler_options::max_wait) so that a step of the wall clock (NTP,
//   suspend) delays a run by at most that much; each wake only looks at the in-memory index.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/core/clock.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/plan/cron.hpp"
#include "respaldo/plan/schedule.hpp"
#include "respaldo/store/store.hpp"

namespace date {
class time_zone;
}

namespace respaldo {

class logger;
class metrics;

struct scheduler_options {
  std::string default_timezone = "UTC";  // --timezone
  std::chrono::seconds jitter{0};        // --schedule-jitter
  std::chrono::seconds max_wait{60};
};

// Queues a job: job_runner::enqueue in the server, a fake in tests.
using enqueue_function =
    std::function<outcome<job_record>(const app_record& app, job_kind kind, job_trigger trigger)>;

// An entry for `app` (its zone resolved against `default_timezone`, then UTC).
schedule_entry make_schedule_entry(const app_record& app, const scheduler_options& options);

class scheduler {
 public:
  // `clock` must outlive the scheduler.
  scheduler(boost::asio::any_io_executor ex, store& db, enqueue_function enqueue,
            const wall_clock& clock, scheduler_options options, logger& log, metrics& stats);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Loads every app, then runs the timer loop (its first wake-up does the catch-up).
  void start();
  // Stops the timer loop; no job is queued after this.
  void stop();

  // An app was created, patched or deleted: reloads it and persists its new next times at once.
  void app_changed(const std::string& app);
  // A job reached its final state (job_runner::on_finished): last_run_at / last_success_at.
  void job_finished(const job_record& job);

  // One wake-up at clock.now(): loads the apps if start() has not, queues the due runs, persists
  // the next times. Returns the next wake time. The timer loop calls it; tests call it directly.
  std::optional<sys_seconds> tick();
  std::optional<sys_seconds> next_wake() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
