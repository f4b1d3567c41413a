// Starting backups and verifications, and /api/jobs: listing, reading and cancelling jobs.
#include <algorithm>

#include "context.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/jobs/runner.hpp"
#include "respaldo/jobs/verify_job.hpp"
#include "respaldo/plan/catalog.hpp"
#include "respaldo/store/store.hpp"
#include "views.hpp"

namespace respaldo::api_detail {
namespace {

namespace json = boost::json;

http_response jobs_unavailable() {
  return problem(503, "jobs_unavailable", "the job runner is not running");
}

http_response already_active(const std::string& app, job_kind kind, const job_record& j) {
  const std::string k(to_string(kind));
  return problem(409, kind == job_kind::backup ? "backup_in_progress" : "verify_in_progress",
                 "a " + k + " of \"" + app + "\" is already " + std::string(to_string(j.state)) +
                     " as job " + j.id + "; follow /api/jobs/" + j.id,
                 {{"job_id", j.id}, {"status_url", "/api/jobs/" + j.id}});
}

// A verification needs a backup that is (or should be) in storage; nullopt when there is one.
std::optional<http_response> refuse_verify_without_backup(api_context& ctx, const std::string& id) {
  auto all = all_backups(ctx.svc.db, id);
  if (!all) return store_failure();
  const bool any = std::any_of(all->begin(), all->end(),
                               [](const backup_record& b) { return is_verifiable(b.status); });
  if (!any) return problem(409, "no_backup", "\"" + id + "\" has no backup to verify yet");
  return std::nullopt;
}

http_response start_job(api_context& ctx, http_request& req, job_kind kind) {
  const auto& id = req.param("id");
  if (!ctx.svc.jobs) return jobs_unavailable();
  auto app = ctx.svc.db.get_app(id);
  if (!app) return store_failure();
  if (!*app) return app_not_found(id);
  auto active = ctx.svc.db.active_job(id, kind);
  if (!active) return store_failure();
  if (*active) return already_active(id, kind, **active);
  if (kind == job_kind::verify)
    if (auto refused = refuse_verify_without_backup(ctx, id)) return std::move(*refused);
  auto job = ctx.svc.jobs->enqueue(**app, kind, job_trigger::manual);
  if (!job) return store_failure();
  ctx.svc.log.info("job queued", {{"app", id},
                                  {"job_id", job->id},
                                  {"kind", std::string(to_string(kind))},
                                  {"request_id", req.request_id}});
  return accepted_job(*job);
}

// `state` and `kind` filters; an unknown value names the parameter.
or_response<job_filter> read_job_filter(const http_request& req) {
  job_filter f;
  if (auto a = req.query_param("app")) f.app = std::string(*a);
  if (auto s = req.query_param("state"); s && !s->empty()) {
    f.state = parse_job_state(*s);
    if (!f.state)
      return problem(400, "invalid_parameter",
                     "state must be one of queued, running, succeeded, failed, cancelled",
                     {{"field", "state"}});
  }
  if (auto k = req.query_param("kind"); k && !k->empty()) {
    f.kind = parse_job_kind(*k);
    if (!f.kind)
      return problem(400, "invalid_parameter", "kind must be backup or verify",
                     {{"field", "kind"}});
  }
  return f;
}

}  // namespace

handler_result start_backup(api_context& ctx, http_request& req) {
  if (!req.body.empty()) {
    // The endpoint takes no options yet; refuse bodies rather than silently ignore them.
    auto body = read_json_body(req, {"application/json"});
    if (!body) co_return body.error();
    if (!body->is_object() || !body->as_object().empty())
      co_return problem(422, "validation_failed", "this endpoint takes no body (or {})");
  }
  co_return start_job(ctx, req, job_kind::backup);
}

handler_result start_verify(api_context& ctx, http_request& req) {
  co_return start_job(ctx, req, job_kind::verify);
}

handler_result list_jobs(api_context& ctx, http_request& req) {
  auto limit = read_limit(req);
  if (!limit) co_return limit.error();
  auto before = read_seq_cursor(req);
  if (!before) co_return before.error();
  auto f = read_job_filter(req);
  if (!f) co_return f.error();
  f->before_seq = *before;
  f->limit = *limit + 1;
  auto jobs = ctx.svc.db.list_job_views(*f);
  if (!jobs) co_return store_failure();
  auto key = [](const job_view& j) { return std::to_string(j.job.seq); };
  auto view = [](const job_view& j) { return job_json(j); };
  co_return page_response(*jobs, *limit, key, view);
}

handler_result get_job(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto view = ctx.svc.db.get_job_view(id);
  if (!view) co_return store_failure();
  if (!*view) co_return job_not_found(id);
  co_return json_response(200, job_json(**view));
}

handler_result cancel_job(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  if (!ctx.svc.jobs) co_return jobs_unavailable();
  auto job = ctx.svc.jobs->cancel(id);
  if (!job) {
    if (job.error().code == errc::not_found) co_return job_not_found(id);
    if (job.error().code == errc::conflict)
      co_return problem(409, "job_finished", job.error().message, {{"job_id", id}});
    co_return store_failure();
  }
  // The cancelled job as recorded, with its backup as the job view shows it.
  job_view view{*job, std::nullopt, false};
  if (auto stored = ctx.svc.db.get_job_view(id); stored && *stored) {
    view.backup = std::move((*stored)->backup);
    view.backup_orphaned = (*stored)->backup_orphaned;
  }
  co_return json_response(202, job_json(view));
}

}  // namespace respaldo::api_detail
