// An app's backups and retention plan, and /api/backups/{id}. The content download is in
// backup_content.cpp.
#include "context.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/plan/catalog.hpp"
#include "respaldo/plan/retention.hpp"
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
  co_return json_response(200, backup_json(**b, exists && !*exists));
}

}  // namespace respaldo::api_detail
