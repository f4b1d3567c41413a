#include "views.hpp"

#include "respaldo/core/clock.hpp"
#include "respaldo/core/json_values.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/jobs/freshness.hpp"
#include "respaldo/plan/cron.hpp"
#include "respaldo/plan/retention.hpp"

namespace respaldo::api_detail {
namespace {

namespace json = boost::json;

json::object health_json(const app_health& h) {
  json::object health;
  health["status"] = to_string(h.status);
  health["checked_at"] = time_or_null(h.checked_at);
  health["detail"] = text_or_null(h.detail);
  health["capabilities"] = h.capabilities ? json::value(*h.capabilities) : json::value(nullptr);
  return health;
}

json::value duration_or_null(const job_record& j) {
  if (!j.started_at || !j.finished_at) return nullptr;
  return json::value((*j.finished_at - *j.started_at).count());
}

// The newest backup job that ended succeeded or failed, and the newest success.
void add_last_jobs(json::object& o, const app_activity* activity) {
  o["last_backup"] = nullptr;
  o["last_success"] = nullptr;
  if (!activity) return;
  if (const auto& j = activity->last_backup) {
    o["last_backup"] = json::object{{"job_id", j->id},
                                    {"state", to_string(j->state)},
                                    {"finished_at", time_or_null(j->finished_at)},
                                    {"duration_seconds", duration_or_null(*j)},
                                    {"error_code", text_or_null(j->error_code)}};
  }
  if (const auto& j = activity->last_success) {
    o["last_success"] = json::object{{"job_id", j->id},
                                     {"finished_at", time_or_null(j->finished_at)},
                                     {"duration_seconds", duration_or_null(*j)},
                                     {"size", j->bytes_done}};
  }
}

void add_freshness(json::object& o, const api_services& svc, const app_record& a,
                   const app_activity* activity) {
  const auto f = freshness_of(a, activity ? activity->newest_good_backup_at : std::nullopt,
                              svc.clock.now(), svc.default_timezone);
  o["stale_after"] = format_duration(f.stale_after);
  o["stale_after_default"] = f.stale_after_is_default;
  o["stale"] = activity && f.judged.stale;
  o["stale_since"] = activity && f.judged.stale ? json::value(format_rfc3339_utc(f.judged.stale_at))
                                                : json::value(nullptr);
  o["newest_good_backup_at"] =
      time_or_null(activity ? activity->newest_good_backup_at : std::nullopt);
}

// The next five fire times of the schedule in the app's zone (with its offset), for people.
json::array next_runs_json(const std::string& schedule, const std::string& zone, sys_seconds now) {
  json::array out;
  const auto cron = cron_schedule::parse(schedule);
  if (!cron) return out;
  const auto* tz = find_time_zone(zone);
  sys_seconds after = now;
  for (int i = 0; i < 5; ++i) {
    const auto next = cron->next_after(after, tz);
    if (!next) break;
    out.emplace_back(tz ? format_rfc3339_local(*next, tz) : format_rfc3339_utc(*next));
    after = *next;
  }
  return out;
}

}  // namespace

json::object backup_json(const backup_record& b, bool orphaned) {
  json::object o;
  o["id"] = b.id;
  o["app"] = b.app;
  o["job_id"] = b.job_id;
  o["created_at"] = format_rfc3339_utc(b.created_at);
  o["size"] = b.size;
  o["sha256"] = b.sha256;
  o["md5"] = text_or_null(b.md5);
  o["format"] = b.format;
  o["storage"] = to_string(b.storage);
  o["location"] = b.location;
  o["name"] = b.name;
  o["status"] = to_string(b.status);
  o["orphaned"] = orphaned;
  o["verified_at"] = time_or_null(b.verified_at);
  if (b.mismatch)
    o["mismatch"] = json::object{{"detected_at", format_rfc3339_utc(b.mismatch->detected_at)},
                                 {"expected_size", b.size},
                                 {"found_size", b.mismatch->size},
                                 {"expected_sha256", b.sha256},
                                 {"found_sha256", b.mismatch->sha256}};
  else
    o["mismatch"] = nullptr;
  return o;
}

json::object app_json(const api_services& svc, const app_record& a, const app_activity* activity,
                      const notification_snapshot& notes) {
  json::object o;
  o["id"] = a.name;
  o["name"] = a.name;
  o["url"] = a.url;
  o["token_set"] = svc.tokens.open(a.name, a.sealed_token).has_value();
  o["drive_folder_id"] = a.drive_folder_id;
  o["schedule"] = a.schedule;
  o["timezone"] = a.timezone.empty() ? svc.default_timezone : a.timezone;
  o["verify_schedule"] = text_or_null(a.verify_schedule);
  o["retention"] = to_json(a.retention);
  o["created_at"] = format_rfc3339_utc(a.created_at);
  o["updated_at"] = format_rfc3339_utc(a.updated_at);
  o["next_run_at"] = time_or_null(a.next_run_at);
  o["next_runs"] = next_runs_json(
      a.schedule, a.timezone.empty() ? svc.default_timezone : a.timezone, svc.clock.now());
  o["last_run_at"] = time_or_null(a.last_run_at);
  o["last_success_at"] = time_or_null(a.last_success_at);
  o["health"] = health_json(a.health);
  // The last probe's verdict; null until the app was probed.
  o["up"] = a.health.status == health_status::unknown
                ? json::value(nullptr)
                : json::value(a.health.status == health_status::ok);
  add_freshness(o, svc, a, activity);
  add_last_jobs(o, activity);
  if (a.last_verify)
    o["last_verify"] = json::object{{"result", to_string(a.last_verify->result)},
                                    {"at", format_rfc3339_utc(a.last_verify->at)},
                                    {"job_id", a.last_verify->job_id},
                                    {"backup_id", text_or_null(a.last_verify->backup_id)}};
  else
    o["last_verify"] = nullptr;
  o["notifications"] = app_notifications_json(notes, a.name);
  // Restore drills (respaldo drill): the newest, and when one last passed.
  auto last = svc.db.last_drill(a.name, false);
  o["last_drill"] = last && *last ? json::value(drill_json(**last)) : json::value(nullptr);
  auto passed = last && *last && (*last)->passed ? last : svc.db.last_drill(a.name, true);
  o["last_drill_success_at"] = passed && *passed
                                   ? json::value(format_rfc3339_utc((*passed)->reported_at))
                                   : json::value(nullptr);
  return o;
}

json::object job_json(const job_view& v) {
  const job_record& j = v.job;
  json::object o;
  o["id"] = j.id;
  o["app"] = j.app;
  o["kind"] = to_string(j.kind);
  o["trigger"] = to_string(j.trigger);
  o["state"] = to_string(j.state);
  o["phase"] = j.phase == job_phase::none ? json::value(nullptr) : json::value(to_string(j.phase));
  o["bytes_done"] = j.bytes_done;
  o["bytes_total"] = j.bytes_total ? json::value(*j.bytes_total) : json::value(nullptr);
  o["attempt"] = j.attempt;
  o["max_attempts"] = j.max_attempts;
  o["created_at"] = format_rfc3339_utc(j.created_at);
  o["started_at"] = time_or_null(j.started_at);
  o["finished_at"] = time_or_null(j.finished_at);
  o["next_attempt_at"] = time_or_null(j.next_attempt_at);
  if (!j.error_code.empty())
    o["error"] = json::object{{"code", j.error_code}, {"message", j.error_message}};
  else
    o["error"] = nullptr;
  o["backup"] = v.backup ? json::value(backup_json(*v.backup, v.backup_orphaned)) : nullptr;
  json::array warnings;
  for (const auto& w : j.warnings) warnings.emplace_back(w);
  o["warnings"] = std::move(warnings);
  return o;
}

}  // namespace respaldo::api_detail
