// Reads of the backup catalog shared by the API and the job runner, so that the retention plan
// the API shows is exactly the one the runner executes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "respaldo/plan/retention.hpp"
#include "respaldo/store/store.hpp"

namespace date {
class time_zone;
}

namespace respaldo {

// Every catalog entry of `app`, newest first, read page by page; the store's failure if a page
// cannot be read.
outcome<std::vector<backup_record>> all_backups(store& db, const std::string& app);

// The retention plan over an app's catalog. Only good ("available") entries count for the rules
// and as the newest, so the policy always keeps its full count of good backups. Entries
// "missing", "corrupt" or "unverified" are never planned for deletion (they stay visible until
// an operator acts or a verification decides), with the reason "missing-from-storage",
// "corrupt" or "unverified"; entries already "deleting" are left out: their deletion is only
// being retried.
std::vector<retention_decision> plan_catalog_retention(const std::vector<backup_record>& backups,
                                                       const retention_policy& policy,
                                                       const date::time_zone* tz);

// The id of the newest good backup (by created_at, then catalog order), the one an explicit delete
// refuses unless forced; none when no backup is good.
std::optional<std::string> newest_good_backup(const std::vector<backup_record>& backups);

}  // namespace respaldo
