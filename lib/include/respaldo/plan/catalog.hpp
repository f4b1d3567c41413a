// Reads of the backup catalog shared by the API and the job runner, so that the retention plan
// the API shows is exactly the one the runner executes.
#pragma once

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

// The retention plan over an app's catalog. Entries flagged "missing" are never planned for
// deletion (they stay visible until an operator acts) and count for no bucket; entries already
// "deleting" are left out: their deletion is only being retried.
std::vector<retention_decision> plan_catalog_retention(const std::vector<backup_record>& backups,
                                                       const retention_policy& policy,
                                                       const date::time_zone* tz);

}  // namespace respaldo
