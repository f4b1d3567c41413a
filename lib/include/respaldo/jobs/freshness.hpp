// Whether an app's backups are fresh: the one place that decides it, for the app JSON, /metrics,
// `respaldo status` and the freshness monitor (schedule/freshness_monitor.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "respaldo/domain/app.hpp"
#include "respaldo/plan/staleness.hpp"

namespace respaldo {

struct app_freshness {
  std::chrono::seconds stale_after{0};  // the app's own, else the default of its schedule
  bool stale_after_is_default = true;
  staleness judged;
};

// `newest_good_backup` is the created_at of the app's newest available backup (store
// app_activity). The default stale_after is cached per schedule, zone and estimate for a day:
// sampling a year of fire times on every scrape would hold the io_context too long.
app_freshness freshness_of(const app_record& app, std::optional<sys_seconds> newest_good_backup,
                           sys_seconds now, const std::string& default_timezone);

// The default stale_after of `app` (its schedule in its zone, its capabilities' est_seconds).
std::chrono::seconds default_stale_after_of(const app_record& app, sys_seconds now,
                                            const std::string& default_timezone);

}  // namespace respaldo
