// The server-side request/response model that handlers see. It deliberately does not expose Beast,
// so handler code compiles without it and can be unit tested without sockets.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace respaldo {

struct header_field {
  std::string name;
  std::string value;
};

// Case-insensitive lookup over an ordered list of fields (HTTP header names are case-insensitive).
std::optional<std::string_view> find_header(const std::vector<header_field>& fields,
                                            std::string_view name);

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/api/apps?limit=10"
  std::string path;    // percent-decoded path, e.g. "/api/apps"
  std::vector<std::pair<std::string, std::string>> query;  // decoded query parameters, in order
  std::vector<header_field> headers;
  std::string body;
  std::string request_id;
  std::map<std::string, std::string> path_params;  // filled by the router, e.g. {"id": "mi-app"}

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
  std::optional<std::string_view> query_param(std::string_view name) const;
  const std::string& param(const std::string& name) const { return path_params.at(name); }
};

// Where a streamed response body goes; the server implements it over its socket.
class body_sink {
 public:
  virtual ~body_sink() = default;
  virtual boost::asio::awaitable<boost::system::error_code> write(
      boost::asio::const_buffer data) = 0;
};

struct http_response {
  unsigned status = 200;
  std::vector<header_field> headers;
  std::string body;
  // For large bodies: when set, the server sends the header (with stream_length as Content-Length
  // when known, chunked otherwise) and then lets this function write the body.
  std::function<boost::asio::awaitable<boost::system::error_code>(body_sink&)> stream;
  std::optional<std::uint64_t> stream_length;

  http_response& set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

http_response json_response(unsigned status, const boost::json::value& body);
http_response empty_response(unsigned status);

}  // namespace respaldo
