// The job queue and runner: jobs are rows in the store (state queued -> running -> succeeded |
// failed | cancelled); the runner picks queued jobs under a global concurrency limit and one
// running job per app, runs them (jobs/backup_job, jobs/verify_job), retries transient failures
// by the retry policy (plan/retry), and at start-up resolves jobs a crash left running
// (jobs/recovery).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "respaldo/core/error.hpp"
#include "respaldo/jobs/job_context.hpp"

namespace respaldo {

class hash_workers;

class job_runner {
 public:
  // `tokens` opens each app's token before the app is called.
  job_runner(boost::asio::any_io_executor ex, store& db, token_seal& tokens, storage& backups,
             contract_client& apps, const wall_clock& clock, runner_options options, logger& log,
             metrics& stats);
  ~job_runner();

  // Resolves jobs left `running` by a previous process, then starts dispatching.
  void start();
  // Stops dispatching and interrupts running jobs; they are queued again for the next start.
  // Completes when the last running job has recorded its state, or after `grace`.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  // Queues a job. The caller checks for an active job of the same app and kind first. A verify
  // job given `backup_id` checks that backup instead of the app's newest.
  outcome<job_record> enqueue(const app_record& app, job_kind kind, job_trigger trigger,
                              const std::string& backup_id = {});
  // Cancels a queued or running job; conflict when it already finished.
  outcome<job_record> cancel(const std::string& job_id);

  // Deletes one backup on request, storage first (jobs/retention_executor remove_backup).
  boost::asio::awaitable<outcome<void>> remove_backup(const backup_record& b);

  // Called after a job reaches a final state (retention, scheduler bookkeeping).
  void on_finished(std::function<void(const job_record&)> hook);

  // Called with every job row the runner writes (queued, started, progress, ended); one hook.
  void on_job_change(std::function<void(const job_record&)> hook);

  std::size_t running_jobs() const;

  // Where job events go (backup.started / succeeded / failed, verify.failed, storage.quota,
  // retention.delete_failed); set before start().
  void set_event_sink(event_sink* sink);
  // Where backups and verify jobs hash (--hash-threads); set before start(). None: the io thread.
  void set_hash_workers(hash_workers* workers);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
