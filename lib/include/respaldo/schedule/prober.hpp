// App health probes: every --probe-interval, each app's GET /backup/capabilities is called with
// its token (contract_client::probe) and the result is stored as the app's `health`:
//   ok            the app answered a valid capabilities document (kept as `capabilities`:
//                 types, est_seconds, est_size)
//   unauthorized  the app refused the token (401/403)
//   invalid       the app answered, but not as the contract says (bad JSON, version, status...)
//   unreachable   anything else: connection refused, timeout, TLS, 5xx
// `checked_at` is when the probe ended and `detail` the failure message (empty when ok; it never
// holds the token). A failed probe keeps the capabilities of the last good one.
// Probes run with bounded concurrency; a round starts `interval` after the previous one ended, so
// rounds never overlap. Apps whose token cannot be unsealed are neither probed nor written: their
// health stays as it was until a new token is PATCHed (token_seal logs the cause once).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "respaldo/contract/client.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {

class logger;
class metrics;
class token_seal;

// The health a probe outcome stands for, checked at `now`. On failure the capabilities are left
// empty (the caller keeps the previous ones).
app_health health_from_probe(const outcome<app_capabilities>& probe, sys_seconds now);

// What GET /api/apps/{id} shows of a capabilities document: {types, est_seconds, est_size}
// (absent estimates are null).
boost::json::object capabilities_json(const app_capabilities& caps);

struct prober_options {
  std::chrono::milliseconds interval{300'000};  // 0: no periodic probes
  std::chrono::milliseconds timeout{30'000};    // one probe, connection included
  unsigned concurrency = 4;
};

// The event a change of health stands for: app.unhealthy when an app that was ok (or not yet
// probed) fails its probe, app.healthy_again when a failing one answers again; none otherwise
// (a probe that finds what the last one found, or one failure mode turning into another).
std::optional<event_kind> health_transition(health_status previous, health_status now);

class prober {
 public:
  // `tokens` opens each app's token before the probe.
  prober(boost::asio::any_io_executor ex, store& db, token_seal& tokens, contract_client& apps,
         prober_options options, logger& log, metrics& stats);
  ~prober();
  prober(const prober&) = delete;
  prober& operator=(const prober&) = delete;

  // Runs a round at once, then one every interval (nothing when the interval is 0).
  void start();
  void stop();
  // Probes one app soon (e.g. just registered or its URL or token changed), unless disabled.
  void app_changed(const std::string& app);

  // One round over every app; completes when all probes ended.
  boost::asio::awaitable<void> probe_all();
  // Probes one app and stores its health (nothing if the app does not exist).
  boost::asio::awaitable<void> probe_one(std::string app);
  // Where health transitions go; set before start().
  void set_event_sink(event_sink* sink);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
