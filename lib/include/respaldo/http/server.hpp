// The HTTP/1.1 server: accepts connections, reads requests under size and time limits, hands
// them to one request handler, writes the responses (buffered or streamed) and logs one access
// line per request. Beast stays in the .cpp.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "respaldo/core/log.hpp"
#include "respaldo/http/message.hpp"

namespace respaldo {

struct http_server_options {
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};     // header + body of one request
  std::chrono::milliseconds idle_timeout{75'000};     // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{60'000};    // per write step of a response
  std::chrono::milliseconds handler_timeout{60'000};  // producing a response (not streaming it)
  std::size_t max_connections = 1024;
  // Open connections one client address may hold; near max_connections idle ones are closed
  // to make room (see http/admission.hpp).
  std::size_t max_connections_per_client = 64;
};

using request_handler = std::function<boost::asio::awaitable<http_response>(http_request&)>;

class http_server {
 public:
  http_server(boost::asio::any_io_executor ex, request_handler handler, http_server_options options,
              logger& log);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds and listens; port 0 picks a free port.
  boost::system::result<boost::asio::ip::tcp::endpoint> listen(const std::string& host,
                                                               std::uint16_t port);
  void start();
  // Stops accepting, closes idle connections, lets in-flight requests finish (their connections
  // close afterwards) and completes when none is left or `grace` has passed.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);
  std::size_t active_connections() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
