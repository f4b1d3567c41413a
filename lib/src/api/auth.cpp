// The admin bearer token. Under /api, authentication comes before routing: without the token a
// client learns nothing, not even which paths and methods exist (401 before 404 and 405).
#include "context.hpp"
#include "respaldo/http/bearer.hpp"

namespace respaldo::api_detail {

std::optional<http_response> refuse_unauthenticated(const api_context& ctx,
                                                    const http_request& req) {
  const bool protected_route = req.path.rfind("/api/", 0) == 0 || req.path == "/api";
  if (protected_route && is_signed_content_request(req)) return std::nullopt;  // checked there
  if (protected_route) return refuse_without_bearer(req, ctx.svc.admin_token, "admin");
  if (req.path == "/metrics" && !ctx.svc.metrics_token.empty())
    return refuse_without_bearer(req, ctx.svc.metrics_token, "metrics");
  return std::nullopt;
}

}  // namespace respaldo::api_detail
