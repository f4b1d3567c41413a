// The admin bearer token. Under /api, authentication comes before routing: without the token a
// client learns nothing, not even which paths and methods exist (401 before 404 and 405).
#include "context.hpp"
#include "respaldo/core/text.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/problem.hpp"

namespace respaldo::api_detail {
namespace {

enum class credentials { absent, wrong, valid };

credentials check_bearer(const http_request& req, const std::string& expected) {
  auto auth = req.header("Authorization");
  if (!auth) return credentials::absent;
  constexpr std::string_view scheme = "bearer ";
  if (auth->size() <= scheme.size() || !iequals(auth->substr(0, scheme.size()), scheme))
    return credentials::absent;
  auto token = auth->substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  const bool ok = !expected.empty() && constant_time_equal(token, expected);
  return ok ? credentials::valid : credentials::wrong;
}

// 401 unless the request carries `expected` as its bearer token.
std::optional<http_response> refuse_without(const http_request& req, const std::string& expected,
                                            std::string_view which) {
  const auto given = check_bearer(req, expected);
  if (given == credentials::valid) return std::nullopt;
  const bool presented = given == credentials::wrong;
  auto res = problem(
      401, "unauthorized",
      presented ? "the bearer token is not valid"
                : "send the " + std::string(which) + " token as Authorization: Bearer <token>");
  res.set_header("WWW-Authenticate", presented
                                         ? "Bearer realm=\"respaldo\", error=\"invalid_token\""
                                         : "Bearer realm=\"respaldo\"");
  return res;
}

}  // namespace

std::optional<http_response> refuse_unauthenticated(const api_context& ctx,
                                                    const http_request& req) {
  const bool protected_route = req.path.rfind("/api/", 0) == 0 || req.path == "/api";
  if (protected_route && is_signed_content_request(req)) return std::nullopt;  // checked there
  if (protected_route) return refuse_without(req, ctx.svc.admin_token, "admin");
  if (req.path == "/metrics" && !ctx.svc.metrics_token.empty())
    return refuse_without(req, ctx.svc.metrics_token, "metrics");
  return std::nullopt;
}

}  // namespace respaldo::api_detail
