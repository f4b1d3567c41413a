// The JSON shapes of apps, jobs and backups as the API shows them. Private to lib/src/api/.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <vector>

#include "respaldo/api/api.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo::api_detail {

// `orphaned`: the backup's app is no longer registered.
boost::json::object backup_json(const backup_record& b, bool orphaned);
// A reported restore drill (drills.cpp).
boost::json::object drill_json(const drill_record& d);
// Opens the sealed token only to report token_set; the token itself is never shown. `activity`
// (store app_activities) gives staleness, the last backup and the last success; without it
// (the store could not say) those read as unknown: stale false, the rest null.
// The notifiers and their recent deliveries, read once for all the apps of a response.
struct notification_snapshot {
  std::vector<notifier_record> notifiers;
  std::map<std::string, std::vector<delivery_record>> recent;  // notifier -> newest first
};
notification_snapshot read_notifications(const api_services& svc);  // empty if the store fails

// `notes` (read_notifications) gives the app's failing notifiers.
boost::json::object app_json(const api_services& svc, const app_record& a,
                             const app_activity* activity, const notification_snapshot& notes);
// notifications: {failing: [names]} of the notifiers covering `app` whose last delivery for it
// did not get through, or that a 410 disabled (notifiers.cpp).
boost::json::object app_notifications_json(const notification_snapshot& notes,
                                           const std::string& app);
// A job with its backup, as the store's job view joins them in.
boost::json::object job_json(const job_view& v);

}  // namespace respaldo::api_detail
