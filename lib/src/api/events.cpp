// GET /api/events: the live stream of job and app changes (api/event_hub).
#include "context.hpp"
#include "respaldo/api/event_hub.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/http/problem.hpp"

namespace respaldo::api_detail {

handler_result stream_events(api_context& ctx, http_request& req) {
  if (!ctx.svc.events)
    co_return problem(503, code_name(errc::events_unavailable), "no event stream is configured");
  co_return ctx.svc.events->open_stream(req.header("Last-Event-ID"));
}

}  // namespace respaldo::api_detail
