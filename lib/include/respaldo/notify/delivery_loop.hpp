// The delivery loop: a coroutine on the io_context that sends due outbox rows one at a time, each
// within a timeout, and records every attempt in the row. 2xx delivers it, 410 disables the
// notifier, anything else (or no answer) schedules a retry by notify/delivery_plan until the row's
// 24 h are over. Rows survive a restart: the loop starts with what the store holds.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>

#include "respaldo/notify/delivery_plan.hpp"

namespace respaldo {

class store;
class token_seal;
class http_client;
class logger;
class metrics;

struct delivery_options {
  notify_retry_policy retry;
  std::chrono::milliseconds timeout{10'000};  // one whole attempt: connect, send, answer
  std::size_t body_limit = 4096;              // of a receiver's answer, read and dropped
  std::size_t keep_finished = 100;            // finished rows kept per notifier
};

class delivery_loop {
 public:
  // `seals` opens the notifiers' URLs and secrets; `client` should refuse the addresses the
  // operator forbids (its endpoint filter).
  delivery_loop(boost::asio::any_io_executor ex, store& db, token_seal& seals, http_client& client,
                logger& log, metrics& stats, delivery_options options);
  ~delivery_loop();

  void start();
  void stop();
  void wake();  // rows were added

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
