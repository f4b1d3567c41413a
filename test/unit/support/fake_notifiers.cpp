// fake_store: notifiers and their outbox, with sqlite_store's semantics.
#include <algorithm>

#include "support/fake_store.hpp"

namespace respaldo::test {

outcome<void> fake_store::insert_notifier(const notifier_record& n) {
  if (auto f = enter("insert_notifier")) return *f;
  if (notifiers_.count(n.name))
    return failure{errc::conflict, "a notifier named \"" + n.name + "\" exists"};
  auto& stored = notifiers_[n.name] = n;
  stored.url.clear();  // plaintext is never stored
  stored.secret.clear();
  return {};
}

outcome<std::optional<notifier_record>> fake_store::get_notifier(const std::string& name) {
  if (auto f = enter("get_notifier")) return *f;
  auto it = notifiers_.find(name);
  if (it == notifiers_.end()) return std::optional<notifier_record>{};
  return std::optional<notifier_record>{it->second};
}

outcome<std::vector<notifier_record>> fake_store::list_notifiers() {
  if (auto f = enter("list_notifiers")) return *f;
  std::vector<notifier_record> out;
  for (const auto& [name, n] : notifiers_) out.push_back(n);
  return out;
}

outcome<void> fake_store::update_notifier(const notifier_record& n, bool clear_secret) {
  if (auto f = enter("update_notifier")) return *f;
  auto it = notifiers_.find(n.name);
  if (it == notifiers_.end())
    return failure{errc::not_found, "no notifier named \"" + n.name + "\""};
  notifier_record next = n;
  next.url.clear();
  next.secret.clear();
  if (next.sealed_url.empty()) next.sealed_url = it->second.sealed_url;
  if (clear_secret)
    next.sealed_secret.clear();
  else if (next.sealed_secret.empty())
    next.sealed_secret = it->second.sealed_secret;
  it->second = std::move(next);
  return {};
}

outcome<void> fake_store::delete_notifier(const std::string& name) {
  if (auto f = enter("delete_notifier")) return *f;
  if (!notifiers_.erase(name))
    return failure{errc::not_found, "no notifier named \"" + name + "\""};
  std::erase_if(deliveries_, [&](const auto& kv) { return kv.second.notifier == name; });
  return {};
}

outcome<void> fake_store::insert_delivery(delivery_record& d) {
  if (auto f = enter("insert_delivery")) return *f;
  for (const auto& [seq, row] : deliveries_)
    if (row.id == d.id) return failure{errc::conflict, "a delivery with id " + d.id + " exists"};
  if (!notifiers_.count(d.notifier))
    return failure{errc::not_found, "no notifier named \"" + d.notifier + "\""};
  d.seq = ++last_delivery_seq_;
  deliveries_[d.seq] = d;
  return {};
}

outcome<std::vector<delivery_record>> fake_store::due_deliveries(sys_millis now,
                                                                 std::size_t limit) {
  if (auto f = enter("due_deliveries")) return *f;
  std::vector<delivery_record> out;
  for (const auto& [seq, d] : deliveries_)
    if (d.state == delivery_state::pending && d.next_attempt_at <= now) out.push_back(d);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.next_attempt_at < b.next_attempt_at;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

outcome<std::optional<sys_millis>> fake_store::next_delivery_at() {
  if (auto f = enter("next_delivery_at")) return *f;
  std::optional<sys_millis> next;
  for (const auto& [seq, d] : deliveries_)
    if (d.state == delivery_state::pending && (!next || d.next_attempt_at < *next))
      next = d.next_attempt_at;
  return next;
}

outcome<void> fake_store::update_delivery(const delivery_record& d) {
  if (auto f = enter("update_delivery")) return *f;
  for (auto& [seq, row] : deliveries_)
    if (row.id == d.id) {
      row.state = d.state;
      row.attempts = d.attempts;
      row.next_attempt_at = d.next_attempt_at;
      row.last_attempt_at = d.last_attempt_at;
      row.last_status = d.last_status;
      row.last_error = d.last_error;
      return {};
    }
  return failure{errc::not_found, "no delivery with id " + d.id};
}

outcome<std::vector<delivery_record>> fake_store::list_deliveries(const std::string& notifier,
                                                                  std::size_t limit) {
  if (auto f = enter("list_deliveries")) return *f;
  std::vector<delivery_record> out;
  for (auto it = deliveries_.rbegin(); it != deliveries_.rend() && out.size() < limit; ++it)
    if (it->second.notifier == notifier) out.push_back(it->second);
  return out;
}

outcome<std::size_t> fake_store::count_pending_deliveries() {
  if (auto f = enter("count_pending_deliveries")) return *f;
  return static_cast<std::size_t>(
      std::count_if(deliveries_.begin(), deliveries_.end(),
                    [](auto& kv) { return kv.second.state == delivery_state::pending; }));
}

outcome<std::size_t> fake_store::drop_oldest_pending(std::size_t keep) {
  if (auto f = enter("drop_oldest_pending")) return *f;
  std::size_t pending = 0, dropped = 0;
  for (auto it = deliveries_.rbegin(); it != deliveries_.rend(); ++it) {
    if (it->second.state != delivery_state::pending) continue;
    if (++pending <= keep) continue;
    it->second.state = delivery_state::dropped;
    it->second.last_error = "dropped: too many pending deliveries";
    ++dropped;
  }
  return dropped;
}

outcome<void> fake_store::prune_deliveries(const std::string& notifier, std::size_t keep) {
  if (auto f = enter("prune_deliveries")) return *f;
  std::size_t kept = 0;
  for (auto it = deliveries_.rbegin(); it != deliveries_.rend();) {
    const auto& d = it->second;
    if (d.notifier == notifier && d.state != delivery_state::pending && ++kept > keep)
      it = std::make_reverse_iterator(deliveries_.erase(std::next(it).base()));
    else
      ++it;
  }
  return {};
}

}  // namespace respaldo::test
