// The pure steps of turning what Beast parsed into an http_request: the framing check, the
// request id and the target split. The server runs them per request; the request fuzz target
// runs them on Beast's parser fed with arbitrary bytes under the server's own limits.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/http/message.hpp"

namespace respaldo {

using parsed_request = boost::beast::http::request<boost::beast::http::string_body>;

// An incoming X-Request-Id is echoed only when it is short and harmless in logs and headers.
bool acceptable_request_id(std::string_view id);

// Beast frames a body only by a final "chunked" or by Content-Length and reads any other
// Transfer-Encoding as no body, so such a request is refused. Returns what to tell the client,
// or nothing when the framing is fine.
std::optional<std::string> check_transfer_encoding(const parsed_request& msg);

// Method, target and request id (the client's when acceptable, else `fallback_id`) of a
// request whose header is parsed.
http_request request_head(const parsed_request& msg, std::string fallback_id);

// Moves the body and the fields of a complete message into `req`.
void take_message(parsed_request& msg, http_request& req);

// Splits req.target into the decoded path and query; false when it is not origin-form.
bool split_target(http_request& req);

}  // namespace respaldo
