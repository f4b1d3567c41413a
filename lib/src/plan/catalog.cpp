#include "respaldo/plan/catalog.hpp"

#include <algorithm>
#include <map>

namespace respaldo {
namespace {

std::string_view kept_reason(backup_status s) {
  switch (s) {
    case backup_status::missing:
      return "missing-from-storage";
    case backup_status::corrupt:
      return "corrupt";
    case backup_status::unverified:
      return "unverified";
    case backup_status::available:
    case backup_status::deleting:
      break;
  }
  return "not-created-by-respaldo";
}

}  // namespace

outcome<std::vector<backup_record>> all_backups(store& db, const std::string& app) {
  std::vector<backup_record> all;
  std::optional<std::int64_t> before;
  while (true) {
    auto page = db.list_backups(app, 1000, before);
    if (!page) return page.error();
    if (page->empty()) break;
    before = page->back().seq;
    for (auto& b : *page) all.push_back(std::move(b));
  }
  return all;
}

std::vector<retention_decision> plan_catalog_retention(const std::vector<backup_record>& backups,
                                                       const retention_policy& policy,
                                                       const date::time_zone* tz) {
  // The planner orders equal timestamps by id; backup ids are random, so it is given the
  // catalog's insertion order instead (zero-padded, so byte order is numeric order): of two
  // backups made within the same second, the later one is the newer.
  auto order_key = [](std::int64_t seq) {
    std::string k = std::to_string(seq);
    return std::string(20 - std::min<std::size_t>(20, k.size()), '0') + k;
  };
  std::vector<retention_candidate> candidates;
  std::map<std::string, const backup_record*> by_key;
  for (const auto& b : backups) {
    if (b.status == backup_status::deleting) continue;
    // Only good backups are candidates of the rules; any other one is protected like a backup
    // respaldo did not make, so it can neither take a good one's place nor be deleted.
    const bool good = is_good(b.status);
    candidates.push_back({order_key(b.seq), b.created_at, good, good});
    by_key[candidates.back().id] = &b;
  }
  auto plan = plan_retention(candidates, policy, tz);
  for (auto& d : plan) {
    const backup_record& b = *by_key.at(d.id);
    d.id = b.id;
    if (!is_good(b.status)) d.reasons = {std::string(kept_reason(b.status))};
  }
  return plan;
}

std::optional<std::string> newest_good_backup(const std::vector<backup_record>& backups) {
  const backup_record* newest = nullptr;
  for (const auto& b : backups) {
    if (!is_good(b.status)) continue;
    if (!newest || b.created_at > newest->created_at ||
        (b.created_at == newest->created_at && b.seq > newest->seq))
      newest = &b;
  }
  if (!newest) return std::nullopt;
  return newest->id;
}

}  // namespace respaldo
