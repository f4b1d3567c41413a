// Notifications as data: the events respaldo reports, the notifiers that receive them and the
// outbox rows that carry one event to one notifier. The event_sink is the seam jobs, retention and
// the prober publish through, so they know nothing of how (or whether) events are delivered.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace respaldo {

using sys_seconds = std::chrono::sys_seconds;
using sys_millis = std::chrono::sys_time<std::chrono::milliseconds>;

enum class event_kind {
  backup_started,
  backup_succeeded,
  backup_failed,
  backup_stale,
  backup_fresh_again,
  verify_failed,
  app_unhealthy,
  app_healthy_again,
  storage_quota,
  retention_delete_failed,
  notifier_test,  // sent only by POST /api/notifiers/{name}/test; not subscribable
};
std::string_view to_string(event_kind k);  // "backup.failed", ...
std::optional<event_kind> parse_event_kind(std::string_view s);
// Every subscribable kind (all but notifier_test), in declaration order.
const std::vector<event_kind>& all_event_kinds();
// What a notifier created without `events` receives: failures and staleness.
const std::vector<event_kind>& default_event_kinds();

// Something that happened, as reported to people. Never holds a token or a secret.
struct event_record {
  event_kind kind = event_kind::backup_failed;
  std::string app;
  std::string job_id;      // empty when no job is involved (probes, staleness)
  std::string backup_id;   // empty when no backup is involved
  std::string error_code;  // empty on success events
  std::string error_message;
  sys_seconds at{};  // when it happened
  std::optional<sys_seconds> started_at;
  std::optional<sys_seconds> finished_at;
};

// Where events are published; implemented by notify/outbox. Publishing never blocks nor fails
// the caller: a refused event is logged and counted by the implementation.
class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual void publish(const event_record& event) = 0;
};

enum class notifier_kind { webhook, slack, healthchecks };
std::string_view to_string(notifier_kind k);
std::optional<notifier_kind> parse_notifier_kind(std::string_view s);

struct notifier_record {
  std::string name;
  notifier_kind kind = notifier_kind::webhook;
  std::string url;     // plaintext, only between the API and the sealing; never stored
  std::string secret;  // the same
  std::string sealed_url;
  std::string sealed_secret;  // empty: no secret
  std::string url_host;       // shown instead of the URL (host[:port])
  std::vector<event_kind> events;
  std::vector<std::string> apps;  // empty: every app
  bool enabled = true;
  std::string disabled_reason;  // set when a 410 disabled it
  sys_seconds created_at{};
  sys_seconds updated_at{};

  bool wants(const event_record& e) const;
};

// pending: waiting for its next attempt. delivered: a 2xx answer. failed: given up (24 h of
// retries, or the notifier answered 410). dropped: pushed out by --notify-max-pending.
enum class delivery_state { pending, delivered, failed, dropped };
std::string_view to_string(delivery_state s);
std::optional<delivery_state> parse_delivery_state(std::string_view s);

// One event for one notifier: an outbox row.
struct delivery_record {
  std::string id;  // X-Respaldo-Delivery: the same for every attempt
  std::int64_t seq = 0;
  std::string notifier;
  event_kind event = event_kind::backup_failed;
  std::string app;
  std::string document;  // the event document (JSON text) the formats are made from
  delivery_state state = delivery_state::pending;
  int attempts = 0;
  sys_millis created_at{};
  sys_millis next_attempt_at{};
  std::optional<sys_millis> last_attempt_at;
  int last_status = 0;  // HTTP status of the last answer, 0 when none came
  std::string last_error;
};

}  // namespace respaldo
