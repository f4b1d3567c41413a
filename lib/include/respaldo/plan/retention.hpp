// Retention planner: which backups of an app to keep and which to delete, with the reasons.
//
// A pure function of the backups and the policy (no clock, no I/O), restic-style:
// - Backups are put in buckets by the calendar of a time zone (UTC if none): calendar day, ISO week
//   (Monday to Sunday, ISO week-numbering year: 2024-12-30 is in 2025-W01), month, year.
// - Each rule `daily`, `weekly`, `monthly`, `yearly` with N > 0 keeps the newest successful backup
// of
//   each of the N most recent buckets that hold a successful backup. Buckets are counted over the
//   existing backups, never from "now": days without backups do not erase history.
// - `last` N keeps the N newest successful backups. Rules are ORed.
// - Only successful backups created by respaldo count for the rules.
// - Never deleted: the newest successful backup, any backup newer than it (a running or failed
// one),
//   anything respaldo did not create; when no backup succeeded, nothing respaldo created is
//   deleted.
// - Failed backups older than the newest successful one are deleted (with no reason).
// - Order is by created_at, then id (byte-wise), then input position: among equal timestamps the
//   larger id counts as the newer backup, so plans are deterministic.
//
// Reasons (one consistent spelling, shown by the API and, with the space replaced by ':', by the
// CLI):
//   "newest"                        the newest successful backup
//   "newer-than-newest-successful"  newer than the newest successful backup
//   "no-successful-backup"          kept because no backup succeeded yet
//   "not-created-by-respaldo"       not ours to delete
//   "last 1", "last 2", ...         position among the newest successful backups
//   "daily 2025-06-17"              newest of that local calendar day
//   "weekly 2025-W23"               newest of that ISO week
//   "monthly 2025-06"               newest of that month
//   "yearly 2025"                   newest of that year
// A reason is one word, optionally followed by one space and a bucket; protections come first, then
// the rules in the order last, daily, weekly, monthly, yearly.
#pragma once

#include <date/tz.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "respaldo/core/error.hpp"

namespace respaldo {

struct retention_policy {
  int last = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;

  friend bool operator==(const retention_policy&, const retention_policy&) = default;
};

// Upper bound of each rule's count.
inline constexpr int max_retention_count = 10000;

// Parses and validates a policy object such as {"daily":7,"weekly":4}: keys among last, daily,
// weekly, monthly, yearly; values integers from 0 to max_retention_count; at least one above 0.
// The error (invalid_argument) names the offending field and what is expected.
outcome<retention_policy> parse_retention_policy(const boost::json::value& v);

// The rules above 0 only, e.g. {"daily":7,"weekly":4}; parse_retention_policy reads it back.
boost::json::object to_json(const retention_policy& p);

struct retention_candidate {
  std::string id;  // backup id (opaque)
  std::chrono::sys_seconds created_at;
  bool successful = true;           // only successful backups count for the rules
  bool created_by_respaldo = true;  // anything else is never deleted
};

struct retention_decision {
  std::string id;
  std::chrono::sys_seconds created_at;
  bool keep = true;
  std::vector<std::string> reasons;  // empty for a deleted backup
};

// One decision per candidate, in the same order as the candidates. `tz` is the calendar of the
// buckets; nullptr means UTC.
std::vector<retention_decision> plan_retention(const std::vector<retention_candidate>& candidates,
                                               const retention_policy& policy,
                                               const date::time_zone* tz);

}  // namespace respaldo
