// A registered app: where its exporter lives, its schedules, its retention and its last probe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/plan/retention.hpp"

namespace respaldo {

using sys_seconds = std::chrono::sys_seconds;

// What the last probe of an app's contract found.
enum class health_status { unknown, ok, unreachable, unauthorized, invalid };
std::string_view to_string(health_status s);
std::optional<health_status> parse_health_status(std::string_view s);

struct app_health {
  health_status status = health_status::unknown;
  std::optional<sys_seconds> checked_at;
  std::string detail;
  std::optional<boost::json::object> capabilities;
};

// What the app's last finished verify job concluded: passed (the bytes match), corrupt (they do
// not), missing (gone from storage, or nothing to verify), failed (it could not be read).
enum class verify_result { passed, corrupt, missing, failed };
std::string_view to_string(verify_result r);
std::optional<verify_result> parse_verify_result(std::string_view s);

struct app_verify {
  verify_result result = verify_result::passed;
  sys_seconds at{};
  std::string job_id;
  std::string backup_id;  // empty when there was nothing to verify

  friend bool operator==(const app_verify&, const app_verify&) = default;
};

struct app_record {
  std::string name;
  std::string url;
  // The token as stored: sealed with the secret key (crypto/token_seal.hpp). The store keeps it
  // opaque; empty means "leave the stored value as it is" on update.
  std::string sealed_token;
  // Plaintext, filled only by callers that unsealed sealed_token to call the app; never stored.
  std::string token;
  std::string drive_folder_id;
  std::string schedule;
  std::string timezone;         // empty: the server's --timezone
  std::string verify_schedule;  // empty: none
  retention_policy retention;
  sys_seconds created_at{};
  sys_seconds updated_at{};
  std::optional<sys_seconds> next_run_at;
  std::optional<sys_seconds> last_run_at;
  std::optional<sys_seconds> last_success_at;
  std::optional<sys_seconds> next_verify_at;
  app_health health;
  std::optional<app_verify> last_verify;
  // The operator's stale_after; none: the default derived from the schedule (plan/staleness).
  std::optional<std::chrono::seconds> stale_after;
  // Since when the app has been stale (the current episode), as the freshness monitor last
  // recorded it; none while fresh. Written only by set_app_stale_since, never by update_app.
  std::optional<sys_seconds> stale_since;
};

}  // namespace respaldo
