#include "respaldo/plan/catalog.hpp"

#include <algorithm>
#include <map>

namespace respaldo {

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
    candidates.push_back({order_key(b.seq), b.created_at, b.status == backup_status::available,
                          b.status != backup_status::missing});
    by_key[candidates.back().id] = &b;
  }
  auto plan = plan_retention(candidates, policy, tz);
  for (auto& d : plan) {
    const backup_record& b = *by_key.at(d.id);
    d.id = b.id;
    if (b.status == backup_status::missing) d.reasons = {"missing-from-storage"};
  }
  return plan;
}

}  // namespace respaldo
