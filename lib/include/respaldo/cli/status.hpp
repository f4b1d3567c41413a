// `respaldo status`: every app on one screen, worst first, from one listing of /api/apps.
#pragma once

#include <boost/json/array.hpp>
#include <optional>
#include <string>
#include <vector>

namespace respaldo::cli {

// Worst first: the order of the screen.
enum class app_condition { stale, failing, unhealthy, ok };
std::string_view to_string(app_condition c);

struct app_status {
  std::string name;
  app_condition worst = app_condition::ok;
  std::vector<app_condition> problems;  // every condition that holds, worst first; empty: ok
  std::string last_success_at;          // "" when none
  std::string next_run_at;
  std::optional<std::uint64_t> last_size;
  std::optional<std::int64_t> last_duration_seconds;
};

// The apps of GET /api/apps items, sorted worst first, then by name. An app is stale when its
// JSON says so, failing when its newest backup failed, unhealthy when its last probe failed.
std::vector<app_status> summarize_status(const boost::json::array& apps);

}  // namespace respaldo::cli
