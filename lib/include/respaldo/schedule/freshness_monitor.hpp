// The freshness monitor: re-evaluates every app's staleness (jobs/freshness.hpp) periodically and
// after each backup ends, records the start of a stale episode in the store (apps.stale_since)
// and reports each transition once to its observers: stale when an episode begins, fresh again
// when the first good backup after it lands. Because the episode is stored, a restart neither
// repeats nor loses a transition. An event sink (notify/outbox) receives each one as
// backup.stale or backup.fresh_again; further observers may attach with on_change.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "respaldo/core/clock.hpp"
#include "respaldo/domain/notifier.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {

class logger;

struct freshness_change {
  std::string app;
  bool stale = false;  // true: an episode began; false: it ended
  // Stale: when the app became stale (its newest good backup, or its registration, plus
  // stale_after). Fresh again: the newest good backup that ended the episode.
  sys_seconds at{};
  std::chrono::seconds stale_after{0};
  std::optional<sys_seconds> newest_good_backup;
};

// The event of a transition: backup.stale when an episode begins (with the error code "stale"
// and a message saying since when and for how long), backup.fresh_again when it ends.
event_record freshness_event(const freshness_change& change);

struct freshness_monitor_options {
  std::string default_timezone = "UTC";
  // Longest sleep between two rounds; the monitor wakes earlier when an app comes due.
  std::chrono::seconds max_interval{60};
};

class freshness_monitor {
 public:
  freshness_monitor(boost::asio::any_io_executor ex, store& db, const wall_clock& clock,
                    freshness_monitor_options options, logger& log);
  ~freshness_monitor();
  freshness_monitor(const freshness_monitor&) = delete;
  freshness_monitor& operator=(const freshness_monitor&) = delete;

  // Called on the io_context thread for each transition, in order.
  void on_change(std::function<void(const freshness_change&)> observer);
  // Publishes every transition as its freshness_event (null: none).
  void set_event_sink(event_sink* sink);
  void start();
  void stop();
  // A backup of `app` ended (or the app changed): re-evaluate it now.
  void app_changed(const std::string& app);

  // One evaluation over every app (or one app); returns the earliest future instant at which a
  // fresh app turns stale, if any. Synchronous, for tests and the loop.
  std::optional<sys_seconds> evaluate_all();
  void evaluate_app(const std::string& app);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
