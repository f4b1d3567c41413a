#include "respaldo/http/bearer.hpp"

#include "respaldo/core/text.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/problem.hpp"

namespace respaldo {

bearer_credentials check_bearer(const http_request& req, std::string_view expected) {
  auto auth = req.header("Authorization");
  if (!auth) return bearer_credentials::absent;
  constexpr std::string_view scheme = "bearer ";
  if (auth->size() <= scheme.size() || !iequals(auth->substr(0, scheme.size()), scheme))
    return bearer_credentials::absent;
  auto token = auth->substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  const bool ok = !expected.empty() && constant_time_equal(token, expected);
  return ok ? bearer_credentials::valid : bearer_credentials::wrong;
}

std::optional<http_response> refuse_without_bearer(const http_request& req,
                                                   std::string_view expected,
                                                   std::string_view which) {
  const auto given = check_bearer(req, expected);
  if (given == bearer_credentials::valid) return std::nullopt;
  const bool presented = given == bearer_credentials::wrong;
  auto res = problem(
      401, "unauthorized",
      presented ? "the bearer token is not valid"
                : "send the " + std::string(which) + " token as Authorization: Bearer <token>");
  res.set_header("WWW-Authenticate", presented
                                         ? "Bearer realm=\"respaldo\", error=\"invalid_token\""
                                         : "Bearer realm=\"respaldo\"");
  return res;
}

}  // namespace respaldo
