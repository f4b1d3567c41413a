// An app's backups and retention plan, and /api/backups/{id}. The content download is in
// backup_content.cpp.
#include "context.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/jobs/runner.hpp"
#include "respaldo/plan/catalog.hpp"
#include "respaldo/plan/retention.hpp"
#include "respaldo/storage/storage.hpp"
#include "respaldo/store/store.hpp"
#include "views.hpp"

namespace respaldo::api_detail {
namespace {

namespace json = boost::json;

json::array decisions_json(const std::vector<retention_decision>& decisions) {
  json::array out;
  for (const auto& d : decisions) {
    json::array reasons;
    for (const auto& r : d.reasons) reasons.emplace_back(r);
    out.push_back(json::object{{"backup_id", d.id},
                               {"created_at", format_rfc3339_utc(d.created_at)},
                               {"keep", d.keep},
                               {"reasons", std::move(reasons)}});
  }
  return out;
}

// `force`: absent or "false" is no, "true" is yes; anything else is refused by name.
or_response<bool> read_force(const http_request& req) {
  auto v = req.query_param("force");
  // result<bool, E> takes a bool only in place (a plain bool would be ambiguous).
  if (!v || *v == "false") return or_response<bool>(boost::system::in_place_value, false);
  if (*v == "true") return or_response<bool>(boost::system::in_place_value, true);
  return problem(400, "invalid_parameter", "force must be true or false", {{"field", "force"}});
}

// An explicit delete may not take the app's last good backup by accident.
std::optional<http_response> refuse_last_good(api_context& ctx, const backup_record& b) {
  auto all = all_backups(ctx.svc.db, b.app);
  if (!all) return store_failure();
  if (newest_good_backup(*all) != b.id) return std::nullopt;
  return problem(409, "last_good_backup",
                 "backup " + b.id + " is the newest good backup of \"" + b.app +
                     "\"; make another backup first, or add ?force=true to delete it anyway",
                 {{"backup_id", b.id}});
}

// A verify job reading the backup would report it missing, and mark the app's last verify so,
// if the backup disappeared under it; such a job ends first (or is cancelled), force or not.
std::optional<http_response> refuse_in_use(api_context& ctx, const backup_record& b) {
  auto active = ctx.svc.db.active_job(b.app, job_kind::verify);
  if (!active) return store_failure();
  if (!*active || !((*active)->backup_id.empty() || (*active)->backup_id == b.id))
    return std::nullopt;
  const auto& job = **active;
  return problem(409, "verify_in_progress",
                 "verify job " + job.id + " of \"" + b.app + "\" is " +
                     std::string(to_string(job.state)) + " and may read backup " + b.id +
                     "; wait for it to end (follow /api/jobs/" + job.id +
                     ") or cancel it, then delete again",
                 {{"backup_id", b.id}, {"job_id", job.id}, {"status_url", "/api/jobs/" + job.id}});
}

}  // namespace

handler_result list_app_backups(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto limit = read_limit(req);
  if (!limit) co_return limit.error();
  auto before = read_seq_cursor(req);
  if (!before) co_return before.error();
  auto exists = ctx.svc.db.app_exists(id);
  if (!exists) co_return store_failure();
  auto backups = ctx.svc.db.list_backups(id, *limit + 1, *before);
  if (!backups) co_return store_failure();
  // A deleted app's backups stay listed (as orphaned) as long as the catalog has them.
  if (!*exists && backups->empty()) co_return app_not_found(id);
  const bool orphaned = !*exists;
  auto key = [](const backup_record& b) { return std::to_string(b.seq); };
  auto view = [orphaned](const backup_record& b) { return backup_json(b, orphaned); };
  co_return page_response(*backups, *limit, key, view);
}

handler_result retention_plan(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto app = ctx.svc.db.get_app(id);
  if (!app) co_return store_failure();
  if (!*app) co_return app_not_found(id);
  auto all = all_backups(ctx.svc.db, id);
  if (!all) co_return store_failure();
  const std::string zone = (*app)->timezone.empty() ? ctx.svc.default_timezone : (*app)->timezone;
  auto decisions = plan_catalog_retention(*all, (*app)->retention, find_time_zone(zone));
  co_return json_response(200, json::object{{"app", id},
                                            {"policy", to_json((*app)->retention)},
                                            {"timezone", zone},
                                            {"decisions", decisions_json(decisions)}});
}

handler_result get_backup(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto b = ctx.svc.db.get_backup(id);
  if (!b) co_return store_failure();
  if (!*b) co_return backup_not_found(id);
  auto exists = ctx.svc.db.app_exists((*b)->app);
  auto doc = backup_json(**b, exists && !*exists);
  auto drills = ctx.svc.db.list_drills(id, 10);
  if (!drills) co_return store_failure();
  json::array items;
  for (const auto& d : *drills) items.push_back(drill_json(d));
  doc["drills"] = std::move(items);  // the newest ten
  co_return json_response(200, doc);
}

}  // namespace respaldo::api_detail

namespace respaldo::api_detail {

handler_result delete_backup(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto force = read_force(req);
  if (!force) co_return force.error();
  if (!ctx.svc.jobs) co_return problem(503, "jobs_unavailable", "the job runner is not running");
  auto found = ctx.svc.db.get_backup(id);
  if (!found) co_return store_failure();
  if (!*found) co_return backup_not_found(id);
  const backup_record b = **found;
  if (!ctx.svc.backups || b.storage != ctx.svc.backups->kind())
    co_return problem(409, "storage_not_configured",
                      "backup " + id + " is kept in " + std::string(to_string(b.storage)) +
                          " storage, which this server is not configured for");
  if (auto busy = refuse_in_use(ctx, b)) co_return std::move(*busy);
  if (!*force)
    if (auto refused = refuse_last_good(ctx, b)) co_return std::move(*refused);
  auto removed = co_await ctx.svc.jobs->remove_backup(b);
  if (!removed) {
    if (removed.error().code == errc::store_error) co_return store_failure();
    co_return problem(502, "storage_error", removed.error().message + "; the catalog entry stays");
  }
  ctx.svc.log.info("backup deleted", {{"backup", id},
                                      {"app", b.app},
                                      {"forced", *force ? "true" : "false"},
                                      {"request_id", req.request_id}});
  co_return empty_response(204);
}

}  // namespace respaldo::api_detail
