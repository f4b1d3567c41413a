#include "respaldo/domain/notifier.hpp"

#include <algorithm>

#include "respaldo/domain/enum_names.hpp"

namespace respaldo {
namespace {

using detail::enum_names;

constexpr enum_names<event_kind, 11> event_names{{
    {event_kind::backup_started, "backup.started"},
    {event_kind::backup_succeeded, "backup.succeeded"},
    {event_kind::backup_failed, "backup.failed"},
    {event_kind::backup_stale, "backup.stale"},
    {event_kind::backup_fresh_again, "backup.fresh_again"},
    {event_kind::verify_failed, "verify.failed"},
    {event_kind::app_unhealthy, "app.unhealthy"},
    {event_kind::app_healthy_again, "app.healthy_again"},
    {event_kind::storage_quota, "storage.quota"},
    {event_kind::retention_delete_failed, "retention.delete_failed"},
    {event_kind::notifier_test, "notifier.test"},
}};

constexpr enum_names<notifier_kind, 3> kind_names{{
    {notifier_kind::webhook, "webhook"},
    {notifier_kind::slack, "slack"},
    {notifier_kind::healthchecks, "healthchecks"},
}};

constexpr enum_names<delivery_state, 4> state_names{{
    {delivery_state::pending, "pending"},
    {delivery_state::delivered, "delivered"},
    {delivery_state::failed, "failed"},
    {delivery_state::dropped, "dropped"},
}};

}  // namespace

std::string_view to_string(event_kind k) {
  return detail::name_of(event_names, k);
}
std::optional<event_kind> parse_event_kind(std::string_view s) {
  return detail::value_of(event_names, s);
}

const std::vector<event_kind>& all_event_kinds() {
  static const std::vector<event_kind> all = [] {
    std::vector<event_kind> v;
    for (const auto& [k, name] : event_names)
      if (k != event_kind::notifier_test) v.push_back(k);
    return v;
  }();
  return all;
}

const std::vector<event_kind>& default_event_kinds() {
  static const std::vector<event_kind> defaults = {
      event_kind::backup_failed, event_kind::backup_stale,           event_kind::backup_fresh_again,
      event_kind::verify_failed, event_kind::app_unhealthy,          event_kind::app_healthy_again,
      event_kind::storage_quota, event_kind::retention_delete_failed};
  return defaults;
}

std::string_view to_string(notifier_kind k) {
  return detail::name_of(kind_names, k);
}
std::optional<notifier_kind> parse_notifier_kind(std::string_view s) {
  return detail::value_of(kind_names, s);
}

std::string_view to_string(delivery_state s) {
  return detail::name_of(state_names, s);
}
std::optional<delivery_state> parse_delivery_state(std::string_view s) {
  return detail::value_of(state_names, s);
}

bool notifier_record::wants(const event_record& e) const {
  if (!enabled || e.kind == event_kind::notifier_test) return false;
  if (std::find(events.begin(), events.end(), e.kind) == events.end()) return false;
  return apps.empty() || std::find(apps.begin(), apps.end(), e.app) != apps.end();
}

}  // namespace respaldo
