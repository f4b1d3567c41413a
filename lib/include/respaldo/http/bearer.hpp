// Bearer-token checks shared by every server of the binary (serve's API, the agent): the token is
// compared in constant time and never appears in a response.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "respaldo/http/message.hpp"

namespace respaldo {

enum class bearer_credentials { absent, wrong, valid };

// What `Authorization: Bearer <token>` of `req` says against `expected` (an empty `expected`
// never matches).
bearer_credentials check_bearer(const http_request& req, std::string_view expected);

// 401 unauthorized (problem+json with WWW-Authenticate) unless the request carries `expected`;
// `which` names the token in the detail ("admin", "metrics", "agent").
std::optional<http_response> refuse_without_bearer(const http_request& req,
                                                   std::string_view expected,
                                                   std::string_view which);

}  // namespace respaldo
