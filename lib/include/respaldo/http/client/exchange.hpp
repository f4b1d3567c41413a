// One HTTP exchange over the pooled client: acquire a connection, send, read the response (the
// whole body up to a limit, or only the head for a streamed body), release the connection, and
// retry once on a new connection when a pooled one turns out to have been closed while idle.
// Drive auth, the Drive files API, the uploads and the tests go through here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <memory>
#include <string>

#include "respaldo/core/error.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo {

struct exchange_options {
  std::size_t body_limit = 1 << 20;
  // Retry once on a new connection when a pooled one failed before any response byte. Callers
  // with a retry policy of their own turn it off so that every drop counts as an attempt.
  bool retry_stale = true;
  // Emitting a signal bound here cancels the request in flight (errc::cancelled).
  boost::asio::cancellation_slot cancel;
};

// A response whose body is still to be read from `conn`; give the connection back with
// http_client::release once the body is consumed.
struct pending_response {
  http_client_response_head head;
  std::unique_ptr<http_connection> conn;
};

// Sends `req` (its target as given) to `origin` and reads the response head.
boost::asio::awaitable<outcome<pending_response>> http_send(http_client& client,
                                                            const http_origin& origin,
                                                            const http_client_request& req,
                                                            const exchange_options& opts = {});

// http_send, then the whole body (errc::http_protocol_error beyond opts.body_limit), then the
// connection goes back to the pool.
boost::asio::awaitable<outcome<http_client::simple_response>> http_exchange(
    http_client& client, const http_origin& origin, const http_client_request& req,
    const exchange_options& opts = {});

// The body of a pending response read whole; the connection is released when it is reusable.
boost::asio::awaitable<outcome<http_client::simple_response>> read_whole(
    http_client& client, pending_response pending, const exchange_options& opts);

}  // namespace respaldo
