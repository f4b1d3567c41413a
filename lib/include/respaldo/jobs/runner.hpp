// The job queue and runner: jobs are rows in the store (state queued -> running -> succeeded |
// failed | cancelled); the runner picks queued jobs under a global concurrency limit and one
// running job per app, runs them, retries transient failures with capped exponential backoff and
// jitter, and at start-up resolves jobs a crash left running.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "respaldo/contract/exporter.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {

class storage;
class token_seal;
class http_client;
class logger;
class metrics;

struct runner_options {
  unsigned max_concurrent_jobs = 4;
  unsigned max_attempts = 3;
  std::chrono::milliseconds retry_base_delay{5'000};
  std::chrono::milliseconds retry_max_delay{300'000};
  std::size_t chunk_size = 8 * 1024 * 1024;
  std::chrono::milliseconds job_deadline{6 * 3600'000};
  exporter_options exporter;
  std::string default_timezone = "UTC";  // retention buckets of apps without their own
};

// Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, plus up to 25%
// jitter drawn from `random01` (in [0, 1)).
std::chrono::milliseconds retry_delay(const runner_options& o, int attempt, double random01);

class job_runner {
 public:
  // `tokens` opens each app's token before the app is called.
  job_runner(boost::asio::any_io_executor ex, store& db, token_seal& tokens, storage& backups,
             http_client& client, runner_options options, logger& log, metrics& stats);
  ~job_runner();

  // Resolves jobs left `running` by a previous process, then starts dispatching.
  void start();
  // Stops dispatching and interrupts running jobs; they are queued again for the next start.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  // Queues a job. The caller checks for an active job of the same app and kind first.
  outcome<job_record> enqueue(const app_record& app, std::string_view kind,
                              std::string_view trigger);
  // Cancels a queued or running job; conflict when it already finished.
  outcome<job_record> cancel(const std::string& job_id);

  // Called after a job reaches a final state (retention, scheduler bookkeeping).
  void on_finished(std::function<void(const job_record&)> hook);

  std::size_t running_jobs() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
