#include "request_parse.hpp"

#include <boost/url/parse.hpp>

#include "respaldo/core/error.hpp"
#include "respaldo/core/text.hpp"

namespace respaldo {

namespace http = boost::beast::http;

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> check_transfer_encoding(const parsed_request& msg) {
  // RFC 9112 section 6.3: a Transfer-Encoding that is not chunked last is an error and the
  // connection must close, or the body would be parsed as the next request.
  std::size_t fields = 0;
  std::string_view value;
  for (const auto& f : msg) {
    if (f.name() != http::field::transfer_encoding) continue;
    ++fields;
    value = f.value();
  }
  if (fields == 0) return std::nullopt;
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (msg.version() < 11)
    return "Transfer-Encoding is not allowed in an HTTP/1.0 request; send Content-Length";
  if (fields > 1) return "Transfer-Encoding must be sent once, as exactly \"chunked\"";
  if (!iequals(value, "chunked"))
    return "Transfer-Encoding must be exactly \"chunked\", got \"" + printable_excerpt(value, 60) +
           "\"; send the body as it is with Content-Length, or chunked alone";
  return std::nullopt;
}

http_request request_head(const parsed_request& msg, std::string fallback_id) {
  http_request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  if (auto it = msg.find("X-Request-Id"); it != msg.end() && acceptable_request_id(it->value()))
    req.request_id = std::string(it->value());
  else
    req.request_id = std::move(fallback_id);
  return req;
}

void take_message(parsed_request& msg, http_request& req) {
  req.body = std::move(msg.body());
  for (const auto& f : msg)
    req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
}

bool split_target(http_request& req) {
  auto url = boost::urls::parse_origin_form(req.target);
  if (!url) return false;
  req.path = std::string(url->path());
  for (auto param : url->params()) req.query.emplace_back(param.key, param.value);
  return true;
}

}  // namespace respaldo
