// Staleness: how long an app may go without a good backup before someone should hear about it,
// and whether it has. Pure functions of the schedule, the estimates and the times given.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "respaldo/core/time_format.hpp"
#include "respaldo/plan/cron.hpp"

namespace respaldo {

// The floor of every default: a schedule firing each minute still gets an hour, so one slow or
// retried run does not page anyone.
inline constexpr std::chrono::seconds min_stale_after{3600};

// Twice the longest gap between two consecutive fire times of `schedule` in `tz` (nullptr =
// UTC), plus the app's estimated run time when it announced one, at least min_stale_after. Fire
// times are sampled from `from` over a year, at most 20000 of them (a schedule every minute
// covers two weeks), which also catches months of unequal length and daylight-saving gaps.
std::chrono::seconds default_stale_after(const cron_schedule& schedule, const date::time_zone* tz,
                                         sys_seconds from,
                                         std::optional<std::uint64_t> est_seconds);

struct staleness {
  bool stale = false;
  // What the age is measured from: the newest good backup, else the registration.
  sys_seconds since{};
  // When the app is (or was) stale from on: since + stale_after.
  sys_seconds stale_at{};
};

// An app is stale when its newest good backup (available or verified) is older than
// `stale_after`; one that never had a good backup is stale once `stale_after` has passed since
// its registration.
staleness judge_staleness(std::optional<sys_seconds> newest_good_backup, sys_seconds registered_at,
                          std::chrono::seconds stale_after, sys_seconds now);

}  // namespace respaldo
