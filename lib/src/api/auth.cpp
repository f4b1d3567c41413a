// The admin bearer token. Under /api, authentication comes before routing: without the token a
// client learns nothing, not even which paths and methods exist (401 before 404 and 405).
#include "context.hpp"
#include "respaldo/core/text.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/problem.hpp"

namespace respaldo::api_detail {
namespace {

enum class credentials { absent, wrong, valid };

credentials check_bearer(const api_context& ctx, const http_request& req) {
  auto auth = req.header("Authorization");
  if (!auth) return credentials::absent;
  constexpr std::string_view scheme = "bearer ";
  if (auth->size() <= scheme.size() || !iequals(auth->substr(0, scheme.size()), scheme))
    return credentials::absent;
  auto token = auth->substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  const bool ok = !ctx.svc.admin_token.empty() && constant_time_equal(token, ctx.svc.admin_token);
  return ok ? credentials::valid : credentials::wrong;
}

}  // namespace

std::optional<http_response> refuse_unauthenticated(const api_context& ctx,
                                                    const http_request& req) {
  const bool protected_route = req.path.rfind("/api/", 0) == 0 || req.path == "/api";
  if (!protected_route) return std::nullopt;
  const auto given = check_bearer(ctx, req);
  if (given == credentials::valid) return std::nullopt;
  const bool presented = given == credentials::wrong;
  auto res = problem(401, "unauthorized",
                     presented ? "the bearer token is not valid"
                               : "send the admin token as Authorization: Bearer <token>");
  res.set_header("WWW-Authenticate", presented
                                         ? "Bearer realm=\"respaldo\", error=\"invalid_token\""
                                         : "Bearer realm=\"respaldo\"");
  return res;
}

}  // namespace respaldo::api_detail
