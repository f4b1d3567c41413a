// The store seam: persistent state (apps, jobs, backup catalog, notifiers and their outbox) behind
// repository interfaces, so that a second backend (PostgreSQL, a test fake) is a new implementation
// and a factory, not an edit of every consumer. Implementations: store/sqlite/sqlite_store.hpp.
//
// Every method's expected failures are an outcome: not_found and conflict where documented,
// store_error when the backend failed (the message says which operation).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/core/error.hpp"
#include "respaldo/domain/app.hpp"
#include "respaldo/domain/backup.hpp"
#include "respaldo/domain/drill.hpp"
#include "respaldo/domain/job.hpp"
#include "respaldo/domain/notifier.hpp"

namespace respaldo {

class app_repository {
 public:
  virtual ~app_repository() = default;
  // conflict if the name exists
  virtual outcome<void> insert_app(const app_record& app) = 0;
  virtual outcome<std::optional<app_record>> get_app(const std::string& name) = 0;
  // By name, after `after_name` (the cursor).
  virtual outcome<std::vector<app_record>> list_apps(std::size_t limit,
                                                     const std::string& after_name) = 0;
  // not_found if missing; an empty sealed_token keeps the stored one.
  virtual outcome<void> update_app(const app_record& app) = 0;
  virtual outcome<void> delete_app(const std::string& name) = 0;  // not_found if missing
  virtual outcome<bool> app_exists(const std::string& name) = 0;
  // Column-wise: only stale_since (none clears it); not_found if missing.
  virtual outcome<void> set_app_stale_since(const std::string& name,
                                            std::optional<sys_seconds> since) = 0;
};

// What an app's jobs and catalog add up to: its JSON, /metrics, staleness and `respaldo status`
// read it, so the figures survive a restart and vanish with the app.
struct app_activity {
  std::string app;
  std::optional<sys_seconds> newest_good_backup_at;  // created_at of the newest available one
  // The newest backup job that ended succeeded or failed (cancelled ones are skipped: a
  // schedule overlap or an operator's cancel says nothing about the app), and the newest success.
  std::optional<job_record> last_backup;
  std::optional<job_record> last_success;
  std::map<job_state, std::uint64_t> backups_finished;  // final backup jobs by state
  std::uint64_t bytes_succeeded = 0;                    // bytes of succeeded backup jobs
  // Seconds from the last attempt's start to the end, of succeeded and failed backup jobs:
  // duration -> how many.
  std::map<std::int64_t, std::uint64_t> durations;
  std::map<backup_status, std::uint64_t> stored;      // catalog entries by status
  std::optional<sys_seconds> last_verify_success_at;  // newest succeeded verify job's end
};

// A job with what its listing shows next to it, read in the same query.
struct job_view {
  job_record job;
  std::optional<backup_record> backup;  // the backup the job produced, if still cataloged
  bool backup_orphaned = false;         // that backup's app is no longer registered
};

class job_repository {
 public:
  virtual ~job_repository() = default;
  virtual outcome<void> insert_job(job_record& job) = 0;  // assigns seq; conflict on a known id
  virtual outcome<std::optional<job_record>> get_job(const std::string& id) = 0;
  virtual outcome<void> update_job(const job_record& job) = 0;  // not_found if missing

  // Column-wise writes: each owner writes only the columns it decides, so that a progress save
  // never undoes a cancel request or a final state written meanwhile. All are not_found when the
  // job is missing.
  //
  // A new attempt: state running, attempt, started_at, phase, bytes_done; clears finished_at,
  // next_attempt_at and the error. conflict unless the job is queued without a cancel request.
  virtual outcome<void> start_job_attempt(const job_record& job) = 0;
  // A running job's progress: phase, bytes_done, bytes_total, backup_id, warnings, resume.
  // conflict once the job is no longer running (nothing is written).
  virtual outcome<void> save_job_progress(const job_record& job) = 0;
  // The end of an attempt or of a waiting job: state, phase, attempt, bytes, started_at,
  // finished_at, next_attempt_at, error, backup_id, warnings, resume; cancel_requested is kept.
  // conflict when the job is already final (nothing is written).
  virtual outcome<void> end_job_attempt(const job_record& job) = 0;
  // Sets cancel_requested on a queued or running job and returns the job as stored; conflict
  // (naming its state) when it is already final.
  virtual outcome<job_record> request_job_cancel(const std::string& id) = 0;
  // Newest first.
  virtual outcome<std::vector<job_record>> list_jobs(const job_filter& filter) = 0;
  // list_jobs with each job's backup and whether that backup is orphaned: one query per page.
  virtual outcome<std::vector<job_view>> list_job_views(const job_filter& filter) = 0;
  // One job as list_job_views shows it, in one query; nullopt if unknown.
  virtual outcome<std::optional<job_view>> get_job_view(const std::string& id) = 0;
  // The oldest queued or running job of that app and kind.
  virtual outcome<std::optional<job_record>> active_job(const std::string& app, job_kind kind) = 0;
  virtual outcome<std::vector<job_record>> jobs_in_state(job_state state) = 0;  // oldest first
};

class backup_repository {
 public:
  virtual ~backup_repository() = default;
  virtual outcome<void> insert_backup(backup_record& backup) = 0;  // assigns seq
  virtual outcome<std::optional<backup_record>> get_backup(const std::string& id) = 0;
  virtual outcome<void> update_backup(const backup_record& backup) = 0;  // not_found if missing
  virtual outcome<void> delete_backup(const std::string& id) = 0;        // not_found if missing
  // Newest first; before_seq is the cursor.
  virtual outcome<std::vector<backup_record>> list_backups(
      const std::string& app, std::size_t limit, std::optional<std::int64_t> before_seq) = 0;
  virtual outcome<std::vector<backup_record>> backups_with_status(backup_status status) = 0;
  // Registered apps only, by name; `app` empty: every app, else that one (none if unknown).
  virtual outcome<std::vector<app_activity>> app_activities(const std::string& app) = 0;
  // Those of the apps whose names lie in [first, last] (a page of the listing), by name.
  virtual outcome<std::vector<app_activity>> app_activities_between(const std::string& first,
                                                                    const std::string& last) = 0;
};

// Restore drills as `respaldo drill` reports them; kept when their backup or app goes.
class drill_repository {
 public:
  virtual ~drill_repository() = default;
  virtual outcome<void> insert_drill(drill_record& d) = 0;  // assigns seq; conflict on a known id
  // A backup's drills, newest first.
  virtual outcome<std::vector<drill_record>> list_drills(const std::string& backup_id,
                                                         std::size_t limit) = 0;
  // An app's newest drill (only a passed one when `passed_only`).
  virtual outcome<std::optional<drill_record>> last_drill(const std::string& app,
                                                          bool passed_only) = 0;
};

// Notifiers and their outbox. URLs and secrets arrive sealed (the caller seals with crypto/).
class notifier_repository {
 public:
  virtual ~notifier_repository() = default;
  virtual outcome<void> insert_notifier(const notifier_record& n) = 0;  // conflict if named
  virtual outcome<std::optional<notifier_record>> get_notifier(const std::string& name) = 0;
  virtual outcome<std::vector<notifier_record>> list_notifiers() = 0;  // by name
  // not_found if missing; an empty sealed_url keeps the stored one, and so does an empty
  // sealed_secret unless clear_secret.
  virtual outcome<void> update_notifier(const notifier_record& n, bool clear_secret) = 0;
  // not_found if missing; its outbox rows go with it.
  virtual outcome<void> delete_notifier(const std::string& name) = 0;

  // Assigns seq; conflict on a known delivery id.
  virtual outcome<void> insert_delivery(delivery_record& d) = 0;
  // Pending rows whose next attempt is due at `now`, the oldest first.
  virtual outcome<std::vector<delivery_record>> due_deliveries(sys_millis now,
                                                               std::size_t limit) = 0;
  // The earliest next attempt of any pending row.
  virtual outcome<std::optional<sys_millis>> next_delivery_at() = 0;
  // State, attempts, next attempt, last attempt, status and error; not_found if missing.
  virtual outcome<void> update_delivery(const delivery_record& d) = 0;
  // A notifier's rows, newest first.
  virtual outcome<std::vector<delivery_record>> list_deliveries(const std::string& notifier,
                                                                std::size_t limit) = 0;
  virtual outcome<std::size_t> count_pending_deliveries() = 0;
  // Marks the oldest pending rows dropped until at most `keep` are pending; how many were.
  virtual outcome<std::size_t> drop_oldest_pending(std::size_t keep) = 0;
  // Deletes a notifier's finished rows (not pending) beyond its newest `keep`.
  virtual outcome<void> prune_deliveries(const std::string& notifier, std::size_t keep) = 0;
};

// Time spent in store calls, for /metrics (respaldo_store_call_*).
struct store_stats {
  std::uint64_t calls = 0;
  std::uint64_t total_ns = 0;
  std::uint64_t max_ns = 0;
};

// All repositories of one backend. Calls are short and run on the io_context thread.
class store : public app_repository,
              public job_repository,
              public backup_repository,
              public drill_repository,
              public notifier_repository {
 public:
  virtual bool healthy() = 0;
  virtual const store_stats& stats() const = 0;
};

}  // namespace respaldo
