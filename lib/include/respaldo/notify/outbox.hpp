// The outbox: events become one store row per interested notifier, written at once and delivered
// later by the delivery loop, so publishing never waits on a receiver and survives a restart.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "respaldo/core/error.hpp"
#include "respaldo/domain/notifier.hpp"

namespace respaldo {

class store;
class logger;
class metrics;

// The associated data a notifier's URL and secret are sealed with (crypto/token_seal), so a sealed
// value cannot be moved to another notifier, nor between an app's token and a notifier.
std::string notifier_url_aad(const std::string& name);
std::string notifier_secret_aad(const std::string& name);

// The current time with millisecond precision: outbox rows are scheduled in ms.
sys_millis notify_now();

struct outbox_options {
  std::string public_url;  // base of the job links in event documents (--public-url)
  // Pending rows kept at most; beyond it the oldest are dropped (respaldo_notifications_total
  // {outcome="dropped"}).
  std::size_t max_pending = 10'000;
};

class outbox final : public event_sink {
 public:
  outbox(store& db, logger& log, metrics& stats, outbox_options options);

  // One row per enabled notifier that wants the event; store failures are logged and counted.
  // Events of staleness (backup.stale, backup.fresh_again) enter here too, from whoever decides
  // them.
  void publish(const event_record& event) override;
  // One row of `event` for `notifier` regardless of its subscriptions (the test endpoint).
  outcome<delivery_record> enqueue(const notifier_record& notifier, const event_record& event);
  // Known only once the API listens, when --public-url is not given.
  void set_public_url(std::string url) { options_.public_url = std::move(url); }
  // Called after rows were added (the delivery loop wakes up).
  void on_enqueued(std::function<void()> hook) { wake_ = std::move(hook); }

 private:
  outcome<delivery_record> insert(const notifier_record& notifier, const event_record& event);
  void enforce_bound();

  store& db_;
  logger& log_;
  metrics& stats_;
  outbox_options options_;
  std::function<void()> wake_;
};

}  // namespace respaldo
