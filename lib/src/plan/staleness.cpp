#include "respaldo/plan/staleness.hpp"

#include <algorithm>

namespace respaldo {
namespace {

constexpr std::chrono::days sample_span{366};
constexpr int max_samples = 20000;

}  // namespace

std::chrono::seconds default_stale_after(const cron_schedule& schedule, const date::time_zone* tz,
                                         sys_seconds from,
                                         std::optional<std::uint64_t> est_seconds) {
  std::chrono::seconds longest{0};
  auto previous = schedule.next_after(from, tz);
  const auto end = from + sample_span;
  // At least one gap is measured even when the first fire time lies beyond the year (0 0 29 2 *).
  for (int i = 0; previous && i < max_samples && (i == 0 || *previous < end); ++i) {
    auto next = schedule.next_after(*previous, tz);
    if (!next) break;
    longest = std::max(longest, *next - *previous);
    previous = next;
  }
  // Capped so that an absurd estimate cannot overflow the sum (100 years is "never" here).
  constexpr std::uint64_t max_estimate = 100ull * 366 * 86400;
  const auto estimate = std::chrono::seconds(
      static_cast<std::int64_t>(std::min(est_seconds.value_or(0), max_estimate)));
  return std::max(min_stale_after, 2 * longest + estimate);
}

staleness judge_staleness(std::optional<sys_seconds> newest_good_backup, sys_seconds registered_at,
                          std::chrono::seconds stale_after, sys_seconds now) {
  staleness s;
  s.since = newest_good_backup.value_or(registered_at);
  s.stale_at = s.since + stale_after;
  s.stale = now > s.stale_at;
  return s;
}

}  // namespace respaldo
