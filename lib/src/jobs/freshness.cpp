#include "respaldo/jobs/freshness.hpp"

#include <map>
#include <mutex>

namespace respaldo {
namespace {

std::optional<std::uint64_t> est_seconds_of(const app_record& app) {
  if (!app.health.capabilities) return std::nullopt;
  const auto* v = app.health.capabilities->if_contains("est_seconds");
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return std::nullopt;
}

struct cached_default {
  std::chrono::seconds value{0};
  sys_seconds computed_at{};
};

constexpr std::size_t max_cached = 4096;
constexpr std::chrono::hours cache_lifetime{24};

}  // namespace

std::chrono::seconds default_stale_after_of(const app_record& app, sys_seconds now,
                                            const std::string& default_timezone) {
  const auto est = est_seconds_of(app);
  const std::string& zone_name = app.timezone.empty() ? default_timezone : app.timezone;
  const std::string key =
      app.schedule + "\n" + zone_name + "\n" + (est ? std::to_string(*est) : std::string("-"));
  static std::mutex mutex;
  static std::map<std::string, cached_default> cache;
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end() && now >= it->second.computed_at &&
                                   now - it->second.computed_at < cache_lifetime)
      return it->second.value;
  }
  auto schedule = cron_schedule::parse(app.schedule);
  // Registration refuses such schedules; a row edited by hand still gets the floor.
  if (!schedule) return min_stale_after;
  const auto value = default_stale_after(*schedule, find_time_zone(zone_name), now, est);
  std::lock_guard lock(mutex);
  if (cache.size() >= max_cached) cache.clear();
  cache[key] = cached_default{value, now};
  return value;
}

app_freshness freshness_of(const app_record& app, std::optional<sys_seconds> newest_good_backup,
                           sys_seconds now, const std::string& default_timezone) {
  app_freshness f;
  if (app.stale_after) {
    f.stale_after = *app.stale_after;
    f.stale_after_is_default = false;
  } else {
    f.stale_after = default_stale_after_of(app, now, default_timezone);
  }
  f.judged = judge_staleness(newest_good_backup, app.created_at, f.stale_after, now);
  return f;
}

}  // namespace respaldo
