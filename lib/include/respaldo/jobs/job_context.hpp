// What every part of a job run works with: the store, the storage, the app contract, the wall
// clock and the runner's options. The runner owns one; backup, verify, retention and recovery
// take it by reference, so each can be driven alone in tests with fakes behind the interfaces.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "respaldo/contract/client.hpp"
#include "respaldo/core/clock.hpp"
#include "respaldo/domain/notifier.hpp"
#include "respaldo/plan/retry.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {

class storage;
class token_seal;
class logger;
class metrics;
class hash_workers;

struct runner_options {
  unsigned max_concurrent_jobs = 4;
  unsigned max_attempts = 3;
  retry_policy retry;  // --retry-base-delay, --retry-max-delay
  std::size_t chunk_size = 8 * 1024 * 1024;
  std::chrono::milliseconds job_deadline{6 * 3600'000};
  // Longest time between two saves of a running backup's progress (--progress-interval).
  std::chrono::milliseconds progress_interval{500};
  // Largest X-Size a backup may announce (--max-backup-size): above it, backup_too_large.
  std::uint64_t max_backup_size = 5ull << 40;
  std::string default_timezone = "UTC";  // retention buckets of apps without their own
};

struct job_context {
  store& db;
  token_seal& tokens;  // opens an app's token before the app is called
  storage& backups;
  contract_client& apps;
  const wall_clock& clock;
  logger& log;
  metrics& stats;
  runner_options options;
  event_sink* events = nullptr;     // notifications (none in most tests)
  hash_workers* hashing = nullptr;  // --hash-threads; none: hashing on the io thread
  // Told of every job row written (queued, started, progress, ended): the live event stream.
  std::function<void(const job_record&)> changed = {};

  // Persists a running job's progress (never its state nor its cancel request); a failure is
  // logged (the job goes on, its row lags behind).
  void save(const job_record& job);
  // Persists the end of an attempt (final, or queued again); false (logged) when the store
  // refused it, e.g. because the job was already final.
  bool end(const job_record& job);
  // A queued job of `app`, not yet saved (insert it with db.insert_job).
  job_record new_job(const std::string& app, job_kind kind, job_trigger trigger) const;
  // Hands an event to the sink, if any; never blocks nor fails the job.
  void publish(const event_record& event) const {
    if (events) events->publish(event);
  }
  void job_changed(const job_record& job) const {
    if (changed) changed(job);
  }
  // Whether `b` lives in the storage this server is configured for.
  bool stored_here(const backup_record& b) const;
};

}  // namespace respaldo
