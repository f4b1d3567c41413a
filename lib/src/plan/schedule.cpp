#include "respaldo/plan/schedule.hpp"

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace respaldo {
namespace {

constexpr schedule_kind all_kinds[] = {schedule_kind::backup, schedule_kind::verify};

const std::optional<cron_schedule>& cron_of(const schedule_entry& e, schedule_kind k) {
  return k == schedule_kind::backup ? e.backup : e.verify;
}
const std::optional<sys_seconds>& next_of(const schedule_entry& e, schedule_kind k) {
  return k == schedule_kind::backup ? e.next_run_at : e.next_verify_at;
}
}  // namespace

std::chrono::seconds jitter_offset(std::string_view app, std::chrono::seconds jitter) {
  if (jitter.count() < 1) return std::chrono::seconds(0);
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64: stable across runs and builds
  for (unsigned char c : app) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return std::chrono::seconds(
      static_cast<std::int64_t>(h % static_cast<std::uint64_t>(jitter.count())));
}

std::optional<sys_seconds> next_fire_time(const cron_schedule& cron, const date::time_zone* tz,
                                          std::chrono::seconds offset, sys_seconds after) {
  auto slot = cron.next_after(after - offset, tz);
  if (!slot) return std::nullopt;
  return *slot + offset;
}

schedule_plan plan_due(const std::vector<schedule_entry>& entries, sys_seconds now) {
  schedule_plan plan;
  for (const auto& e : entries) {
    for (auto kind : all_kinds) {
      const auto& cron = cron_of(e, kind);
      const auto& current = next_of(e, kind);
      std::optional<sys_seconds> next = current;
      if (!cron) {
        next.reset();
      } else if (!current) {
        next = next_fire_time(*cron, e.tz, e.offset, now);
      } else if (*current <= now) {
        // However many fire times passed, one run; the next one counts from now.
        plan.due.push_back({e.app, kind, *current});
        next = next_fire_time(*cron, e.tz, e.offset, now);
      }
      if (next != current) plan.changes.push_back({e.app, kind, next});
      if (next && (!plan.next_wake || *next < *plan.next_wake)) plan.next_wake = next;
    }
  }
  std::sort(plan.due.begin(), plan.due.end(), [](const due_run& a, const due_run& b) {
    return std::tie(a.due_at, a.app, a.kind) < std::tie(b.due_at, b.app, b.kind);
  });
  return plan;
}

run_decision decide_run(schedule_kind kind, bool job_active, bool has_backup) {
  if (job_active) return run_decision::skip_overlap;
  if (kind == schedule_kind::verify && !has_backup) return run_decision::skip_no_backup;
  return run_decision::start;
}

}  // namespace respaldo
