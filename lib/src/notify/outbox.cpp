#include "respaldo/notify/outbox.hpp"

#include "respaldo/core/ids.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/notify/formats.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {

std::string notifier_url_aad(const std::string& name) {
  return "notifier/" + name + "/url";
}
std::string notifier_secret_aad(const std::string& name) {
  return "notifier/" + name + "/secret";
}

sys_millis notify_now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

outbox::outbox(store& db, logger& log, metrics& stats, outbox_options options)
    : db_(db), log_(log), stats_(stats), options_(std::move(options)) {
  stats_.describe("respaldo_notifications_total", metrics::kind::counter,
                  "Notification attempts by notifier and outcome (delivered, retried, failed).");
  stats_.describe("respaldo_notifications_dropped_total", metrics::kind::counter,
                  "Pending notifications dropped because --notify-max-pending was reached.");
  stats_.describe("respaldo_events_total", metrics::kind::counter, "Events published, by event.");
}

outcome<delivery_record> outbox::insert(const notifier_record& notifier,
                                        const event_record& event) {
  delivery_record d;
  d.id = random_hex_id(16);
  d.notifier = notifier.name;
  d.event = event.kind;
  d.app = event.app;
  d.document = event_document(event, d.id, options_.public_url);
  d.created_at = notify_now();
  d.next_attempt_at = d.created_at;
  if (auto done = db_.insert_delivery(d); !done) {
    log_.error("could not queue a notification", {{"notifier", notifier.name},
                                                  {"event", std::string(to_string(event.kind))},
                                                  {"error", done.error().message}});
    return done.error();
  }
  return d;
}

void outbox::enforce_bound() {
  auto dropped = db_.drop_oldest_pending(options_.max_pending);
  if (dropped && *dropped > 0) {
    stats_.add("respaldo_notifications_dropped_total", static_cast<double>(*dropped));
    log_.warn("pending notifications dropped: too many",
              {{"dropped", static_cast<std::uint64_t>(*dropped)},
               {"max_pending", static_cast<std::uint64_t>(options_.max_pending)}});
  }
}

void outbox::publish(const event_record& event) {
  stats_.add("respaldo_events_total", 1, {{"event", std::string(to_string(event.kind))}});
  auto notifiers = db_.list_notifiers();
  if (!notifiers) {
    log_.error("could not read the notifiers; event not queued",
               {{"event", std::string(to_string(event.kind))}, {"app", event.app}});
    return;
  }
  bool added = false;
  for (const auto& n : *notifiers)
    if (n.wants(event) && insert(n, event)) added = true;
  if (!added) return;
  enforce_bound();
  if (wake_) wake_();
}

outcome<delivery_record> outbox::enqueue(const notifier_record& notifier,
                                         const event_record& event) {
  auto d = insert(notifier, event);
  if (!d) return d;
  enforce_bound();
  if (wake_) wake_();
  return d;
}

}  // namespace respaldo
