#include "respaldo/http/client/exchange.hpp"

#include "connection_impl.hpp"

namespace respaldo {

namespace asio = boost::asio;

namespace {

// Cancels the connection while a request is in flight; the handler is removed on scope exit so
// that a later emit never reaches a connection that is gone.
class cancel_binding {
 public:
  cancel_binding(asio::cancellation_slot slot, http_connection& conn) : slot_(slot) {
    if (!slot_.is_connected()) return;
    auto on_cancel = [&conn](asio::cancellation_type) { conn.cancel(); };
    slot_.assign(on_cancel);
  }
  ~cancel_binding() {
    if (slot_.is_connected()) slot_.clear();
  }
  cancel_binding(const cancel_binding&) = delete;
  cancel_binding& operator=(const cancel_binding&) = delete;

 private:
  asio::cancellation_slot slot_;
};

}  // namespace

asio::awaitable<outcome<pending_response>> http_send(http_client& client, const http_origin& origin,
                                                     const http_client_request& req,
                                                     const exchange_options& opts) {
  for (int attempt = 0;; ++attempt) {
    auto c = co_await client.acquire(origin);
    if (!c) co_return c.error();
    std::unique_ptr<http_connection> conn = std::move(*c);
    outcome<http_client_response_head> head;
    {
      cancel_binding bound(opts.cancel, *conn);
      head = co_await conn->request(req);
    }
    if (head) co_return pending_response{std::move(*head), std::move(conn)};
    // A pooled connection the server closed while idle: the request never got anywhere.
    if (opts.retry_stale && attempt == 0 && conn->failed_before_response()) continue;
    co_return head.error();
  }
}

asio::awaitable<outcome<http_client::simple_response>> read_whole(http_client& client,
                                                                  pending_response pending,
                                                                  const exchange_options& opts) {
  http_connection& conn = *pending.conn;
  outcome<std::string> body;
  {
    cancel_binding bound(opts.cancel, conn);
    body = co_await conn.read_body_all(opts.body_limit);
  }
  if (!body) co_return body.error();
  client.release(std::move(pending.conn));
  co_return http_client::simple_response{std::move(pending.head), std::move(*body)};
}

asio::awaitable<outcome<http_client::simple_response>> http_exchange(http_client& client,
                                                                     const http_origin& origin,
                                                                     const http_client_request& req,
                                                                     const exchange_options& opts) {
  auto sent = co_await http_send(client, origin, req, opts);
  if (!sent) co_return sent.error();
  co_return co_await read_whole(client, std::move(*sent), opts);
}

// The target taken from the URL.
asio::awaitable<outcome<http_client::simple_response>> http_client::fetch(const parsed_url& url,
                                                                          http_client_request req,
                                                                          std::size_t body_limit) {
  req.target = url.target;
  exchange_options opts;
  opts.body_limit = body_limit;
  co_return co_await http_exchange(*this, url.origin, req, opts);
}

}  // namespace respaldo
