// /api/apps and /api/apps/{id}: registration, listing, reading, merge-patch updates, deletion.
#include <map>

#include "context.hpp"
#include "respaldo/core/clock.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/jobs/runner.hpp"
#include "respaldo/store/store.hpp"
#include "views.hpp"

namespace respaldo::api_detail {
namespace {

namespace json = boost::json;

// The app's activity, or none when the store cannot say (the JSON then reads it as unknown).
std::optional<app_activity> activity_of(api_context& ctx, const std::string& app) {
  auto got = ctx.svc.db.app_activities(app);
  if (!got || got->empty()) return std::nullopt;
  return std::move(got->front());
}

http_response app_exists_conflict(const std::string& name) {
  return problem(409, "app_exists",
                 "an app named \"" + name + "\" is already registered; PATCH /api/apps/" + name +
                     " to change it",
                 {{"field", "name"}});
}

// Jobs still queued for a deleted app can no longer run.
void cancel_open_jobs(api_context& ctx, const std::string& app) {
  if (!ctx.svc.jobs) return;
  job_filter f;
  f.app = app;
  f.limit = 1000;
  if (auto jobs = ctx.svc.db.list_jobs(f))
    for (auto& j : *jobs)
      if (!is_final(j.state)) (void)ctx.svc.jobs->cancel(j.id);
}

}  // namespace

handler_result create_app(api_context& ctx, http_request& req) {
  auto body = read_json_body(req, {"application/json"});
  if (!body) co_return body.error();
  auto app = validate_registration(*body);
  if (!app) co_return validation_problem(app.error());
  if (auto inside = co_await check_app_url_address(ctx, app->url); !inside)
    co_return validation_problem(inside.error());
  const auto now = ctx.svc.clock.now();
  app->created_at = now;
  app->updated_at = now;
  app->sealed_token = ctx.svc.tokens.seal(app->name, app->token);
  if (auto done = ctx.svc.db.insert_app(*app); !done) {
    if (done.error().code == errc::conflict) co_return app_exists_conflict(app->name);
    co_return store_failure();
  }
  ctx.svc.log.info("app registered", {{"app", app->name}, {"request_id", req.request_id}});
  ctx.app_changed(app->name);
  auto res = json_response(201, json::object{{"id", app->name}, {"status", "registered"}});
  res.set_header("Location", "/api/apps/" + app->name);
  co_return res;
}

handler_result list_apps(api_context& ctx, http_request& req) {
  auto limit = read_limit(req);
  if (!limit) co_return limit.error();
  auto after = read_name_cursor(req);
  if (!after) co_return after.error();
  auto apps = ctx.svc.db.list_apps(*limit + 1, *after);
  if (!apps) co_return store_failure();
  // One grouped read for the page's names rather than one per app (or one for every app).
  std::map<std::string, app_activity> activities;
  if (!apps->empty())
    if (auto page = ctx.svc.db.app_activities_between(apps->front().name, apps->back().name))
      for (auto& a : *page) activities.emplace(a.app, std::move(a));
  auto key = [](const app_record& a) { return a.name; };
  const auto notes = read_notifications(ctx.svc);
  auto view = [&ctx, &activities, &notes](const app_record& a) {
    auto it = activities.find(a.name);
    return app_json(ctx.svc, a, it == activities.end() ? nullptr : &it->second, notes);
  };
  co_return page_response(*apps, *limit, key, view);
}

handler_result get_app(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto app = ctx.svc.db.get_app(id);
  if (!app) co_return store_failure();
  if (!*app) co_return app_not_found(id);
  const auto activity = activity_of(ctx, id);
  co_return json_response(
      200, app_json(ctx.svc, **app, activity ? &*activity : nullptr, read_notifications(ctx.svc)));
}

handler_result update_app(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto body = read_json_body(req, {"application/json", "application/merge-patch+json"});
  if (!body) co_return body.error();
  auto app = ctx.svc.db.get_app(id);
  if (!app) co_return store_failure();
  if (!*app) co_return app_not_found(id);
  auto patched = apply_app_patch(**app, *body);
  if (!patched) co_return validation_problem(patched.error());
  app_record& updated = *patched;
  if (auto inside = co_await check_app_url_address(ctx, updated.url); !inside)
    co_return validation_problem(inside.error());
  updated.updated_at = ctx.svc.clock.now();
  if (updated.schedule != (*app)->schedule || updated.timezone != (*app)->timezone)
    updated.next_run_at.reset();  // recomputed by the scheduler
  if (updated.verify_schedule != (*app)->verify_schedule) updated.next_verify_at.reset();
  if (!updated.token.empty()) updated.sealed_token = ctx.svc.tokens.seal(id, updated.token);
  if (auto done = ctx.svc.db.update_app(updated); !done) {
    if (done.error().code == errc::not_found) co_return app_not_found(id);
    co_return store_failure();
  }
  ctx.svc.log.info("app updated", {{"app", id}, {"request_id", req.request_id}});
  ctx.app_changed(id);
  auto fresh = ctx.svc.db.get_app(id);
  const auto activity = activity_of(ctx, id);
  co_return json_response(
      200, app_json(ctx.svc, fresh && *fresh ? **fresh : updated, activity ? &*activity : nullptr,
                    read_notifications(ctx.svc)));
}

handler_result delete_app(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  if (auto done = ctx.svc.db.delete_app(id); !done) {
    if (done.error().code == errc::not_found) co_return app_not_found(id);
    co_return store_failure();
  }
  cancel_open_jobs(ctx, id);
  ctx.svc.log.info("app deleted", {{"app", id}, {"request_id", req.request_id}});
  ctx.app_changed(id);
  co_return empty_response(204);
}

}  // namespace respaldo::api_detail
