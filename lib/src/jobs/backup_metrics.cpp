#include "respaldo/jobs/backup_metrics.hpp"

#include <array>
#include <map>

#include "respaldo/core/clock.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/jobs/freshness.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {
namespace {

constexpr std::array<const char*, 13> per_app_families = {
    "respaldo_backup_last_success_timestamp_seconds",
    "respaldo_backup_last_attempt_timestamp_seconds",
    "respaldo_backup_last_status",
    "respaldo_backup_last_size_bytes",
    "respaldo_backup_duration_seconds",
    "respaldo_backups_total",
    "respaldo_backup_bytes_total",
    "respaldo_app_stale",
    "respaldo_app_up",
    "respaldo_verify_last_success_timestamp_seconds",
    "respaldo_backups_stored",
    "respaldo_backup_next_run_timestamp_seconds",
    "respaldo_restore_drill_last_success_timestamp_seconds"};

double seconds_of(sys_seconds t) {
  return static_cast<double>(t.time_since_epoch().count());
}

void describe_families(metrics& m) {
  using k = metrics::kind;
  m.describe(per_app_families[0], k::gauge, "End of the app's newest succeeded backup.");
  m.describe(per_app_families[1], k::gauge, "End of the app's newest succeeded or failed backup.");
  m.describe(per_app_families[2], k::gauge, "Outcome of the app's newest backup: 0 ok, 1 failed.");
  m.describe(per_app_families[3], k::gauge, "Size of the app's newest succeeded backup.");
  m.describe(per_app_families[4], k::histogram,
             "Duration of succeeded and failed backup jobs (their last attempt).",
             backup_duration_buckets());
  m.describe(per_app_families[5], k::counter, "Backup jobs ended, by outcome.");
  m.describe(per_app_families[6], k::counter, "Bytes of succeeded backups.");
  m.describe(per_app_families[7], k::gauge,
             "1 when the app's newest good backup is older than its stale_after.");
  m.describe(per_app_families[8], k::gauge, "1 when the app's last probe succeeded.");
  m.describe(per_app_families[9], k::gauge, "End of the app's newest succeeded verify job.");
  m.describe(per_app_families[10], k::gauge, "Catalog entries of the app, by status.");
  m.describe(per_app_families[11], k::gauge, "Next scheduled backup of the app.");
  m.describe(per_app_families[12], k::gauge,
             "When the app's newest passed restore drill was reported.");
}

void render_app(metrics& m, const app_record& app, const app_activity& a, sys_seconds now,
                const std::string& default_timezone) {
  const metric_labels l = {{"app", app.name}};
  if (a.last_success && a.last_success->finished_at) {
    m.set(per_app_families[0], seconds_of(*a.last_success->finished_at), l);
    m.set(per_app_families[3], static_cast<double>(a.last_success->bytes_done), l);
  }
  if (a.last_backup && a.last_backup->finished_at) {
    m.set(per_app_families[1], seconds_of(*a.last_backup->finished_at), l);
    m.set(per_app_families[2], a.last_backup->state == job_state::succeeded ? 0 : 1, l);
  }
  for (const auto& [seconds, count] : a.durations)
    m.observe(per_app_families[4], static_cast<double>(seconds), l, count);
  if (a.durations.empty()) m.observe(per_app_families[4], 0, l, 0);  // zero buckets, not absent
  for (auto state : {job_state::succeeded, job_state::failed, job_state::cancelled}) {
    const auto it = a.backups_finished.find(state);
    m.set(per_app_families[5], it == a.backups_finished.end() ? 0 : static_cast<double>(it->second),
          {{"app", app.name}, {"outcome", std::string(to_string(state))}});
  }
  m.set(per_app_families[6], static_cast<double>(a.bytes_succeeded), l);
  const auto f = freshness_of(app, a.newest_good_backup_at, now, default_timezone);
  m.set(per_app_families[7], f.judged.stale ? 1 : 0, l);
  if (app.health.status != health_status::unknown)
    m.set(per_app_families[8], app.health.status == health_status::ok ? 1 : 0, l);
  if (a.last_verify_success_at)
    m.set(per_app_families[9], seconds_of(*a.last_verify_success_at), l);
  for (auto status : {backup_status::available, backup_status::unverified, backup_status::corrupt,
                      backup_status::missing, backup_status::deleting}) {
    const auto it = a.stored.find(status);
    m.set(per_app_families[10], it == a.stored.end() ? 0 : static_cast<double>(it->second),
          {{"app", app.name}, {"status", std::string(to_string(status))}});
  }
  if (app.next_run_at) m.set(per_app_families[11], seconds_of(*app.next_run_at), l);
}

}  // namespace

std::vector<double> backup_duration_buckets() {
  return {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400};
}

void describe_backup_metrics(metrics& stats, store& db, const wall_clock& clock,
                             std::string default_timezone) {
  describe_families(stats);
  stats.on_render([&db, &clock, tz = std::move(default_timezone)](metrics& m) {
    auto activities = db.app_activities("");
    auto apps = db.list_apps(1'000'000, "");
    // A store that cannot answer leaves the last figures rather than reporting every app gone.
    if (!activities || !apps) return;
    for (const char* family : per_app_families) m.clear(family);
    std::map<std::string, const app_activity*> by_name;
    for (const auto& a : *activities) by_name[a.app] = &a;
    const auto now = clock.now();
    for (const auto& app : *apps)
      if (auto it = by_name.find(app.name); it != by_name.end())
        render_app(m, app, *it->second, now, tz);
    for (const auto& app : *apps)
      if (auto drill = db.last_drill(app.name, true); drill && *drill)
        m.set(per_app_families[12], seconds_of((*drill)->reported_at), {{"app", app.name}});
  });
}

}  // namespace respaldo
