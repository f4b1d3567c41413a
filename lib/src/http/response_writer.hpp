// Writing one response of the server onto its connection: buffered, HEAD (header only) or
// streamed (Content-Length or chunked). Internal to the server; Beast stays out of the headers
// handlers see.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "respaldo/core/log.hpp"
#include "respaldo/http/message.hpp"

namespace respaldo {

struct written_response {
  bool ok = true;                // false: the connection must close (write failed, body cut off)
  std::uint64_t body_bytes = 0;  // body bytes sent
};

// `close_after` sets Connection: close. A streamed body that fails is cut off (no last chunk,
// short Content-Length) and logged with `request_id`, so it never looks complete.
boost::asio::awaitable<written_response> write_http_response(
    boost::beast::tcp_stream& stream, http_response& res, bool close_after, bool head_request,
    std::chrono::milliseconds write_timeout, logger& log, const std::string& request_id);

}  // namespace respaldo
