#include "respaldo/http/admission.hpp"

namespace respaldo {
namespace {

// Addresses remembered for rate-limited reports before old ones are forgotten.
constexpr std::size_t report_memory = 4096;

}  // namespace

connection_admission::connection_admission(admission_limits limits) : limits_(limits) {}

std::size_t connection_admission::eviction_threshold() const {
  // An eighth of headroom: a burst of new connections finds idle ones to replace before the cap.
  return limits_.max_connections - limits_.max_connections / 8;
}

connection_admission::verdict connection_admission::admit(const std::string& address,
                                                          time_point now) {
  verdict v;
  if (open_from(address) >= limits_.max_per_client) {
    v.report = note_refusal(address, refusal_reason::client_limit, now);
    return v;
  }
  std::size_t live = connections_.size() - evicting_;
  if (live >= eviction_threshold()) {
    if (auto victim = longest_idle()) {
      auto& e = connections_.at(*victim);
      e.evicting = true;
      ++evicting_;
      --live;
      v.evict = victim;
    }
  }
  if (live >= limits_.max_connections) {
    v.report = note_refusal(address, refusal_reason::global_limit, now);
    return v;
  }
  const auto id = next_id_++;
  connections_.emplace(id, entry{address, false, false, now});
  ++per_address_[address];
  v.admitted = id;
  return v;
}

void connection_admission::set_busy(connection_id id, bool busy, time_point now) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  if (it->second.busy && !busy) it->second.idle_since = now;
  it->second.busy = busy;
}

void connection_admission::release(connection_id id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  if (it->second.evicting) --evicting_;
  auto count = per_address_.find(it->second.address);
  if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
  connections_.erase(it);
}

bool connection_admission::idle(connection_id id) const {
  auto it = connections_.find(id);
  return it != connections_.end() && !it->second.busy;
}

std::size_t connection_admission::open_from(const std::string& address) const {
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

std::optional<connection_admission::connection_id> connection_admission::longest_idle() const {
  std::optional<connection_id> best;
  time_point since{};
  for (const auto& [id, e] : connections_) {
    if (e.busy || e.evicting) continue;
    // Ties (same instant) go to the older id, so the outcome does not depend on hash order.
    if (!best || e.idle_since < since || (e.idle_since == since && id < *best)) {
      best = id;
      since = e.idle_since;
    }
  }
  return best;
}

std::optional<refusal_report> connection_admission::note_refusal(const std::string& address,
                                                                 refusal_reason reason,
                                                                 time_point now) {
  auto it = reports_.find(address);
  if (it == reports_.end()) {
    if (reports_.size() >= report_memory) {
      // Forget addresses whose interval is over; what they had pending is dropped with them.
      std::erase_if(reports_,
                    [&](const auto& r) { return now - r.second.last >= limits_.report_interval; });
    }
    reports_.emplace(address, report_state{now, 0});
    return refusal_report{address, reason, 1};
  }
  auto& st = it->second;
  ++st.pending;
  if (now - st.last < limits_.report_interval) return std::nullopt;
  const auto n = st.pending;
  st.pending = 0;
  st.last = now;
  return refusal_report{address, reason, n};
}

}  // namespace respaldo
