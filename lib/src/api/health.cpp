// /healthz, /readyz and /metrics: open to anyone (probes and scrapers carry no token).
#include "context.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo::api_detail {

namespace json = boost::json;

handler_result healthz(api_context&, http_request&) {
  co_return json_response(200, json::object{{"status", "ok"}});
}

handler_result readyz(api_context& ctx, http_request&) {
  if (!ctx.svc.db.healthy())
    co_return problem(503, "store_unavailable", "the database is not usable; see the server log");
  co_return json_response(200, json::object{{"status", "ready"}});
}

handler_result metrics_text(api_context& ctx, http_request&) {
  http_response res;
  res.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  res.body = ctx.svc.stats.render();
  co_return res;
}

}  // namespace respaldo::api_detail
