#include "respaldo/http/server.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <tuple>
#include <variant>

#include "request_parse.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/core/ids.hpp"
#include "respaldo/core/text.hpp"
#include "respaldo/http/admission.hpp"
#include "respaldo/http/problem.hpp"
#include "response_writer.hpp"

namespace respaldo {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

struct connection {
  beast::tcp_stream* stream = nullptr;
  connection_admission::connection_id id = 0;
  bool evicted = false;  // closed to make room for a newcomer
};

// 16 hex digits, as before; core's generator so that there is one source of ids.
std::string make_request_id() {
  return random_hex_id(8);
}

}  // namespace

struct http_server::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, request_handler h, http_server_options o, logger& l)
      : ex(std::move(e)),
        acceptor(ex),
        handler(std::move(h)),
        options(o),
        log(l),
        admission(admission_limits{o.max_connections, o.max_connections_per_client}),
        drained(ex) {}

  asio::any_io_executor ex;
  tcp::acceptor acceptor;
  request_handler handler;
  http_server_options options;
  logger& log;
  connection_admission admission;
  std::list<connection> connections;
  bool stopping = false;
  asio::steady_timer drained;  // cancelled when the last connection closes (shutdown waits on it)

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(as_tuple_awaitable);
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping) break;
        log.warn("accept failed", {{"error", ec.message()}});
        // Out of descriptors and similar: back off briefly instead of spinning.
        asio::steady_timer pause(ex, std::chrono::milliseconds(50));
        co_await pause.async_wait(as_tuple_awaitable);
        continue;
      }
      const auto id = admit(socket);
      if (!id) continue;
      auto session = [self, s = std::move(socket), id = *id]() mutable -> asio::awaitable<void> {
        co_await self->run_session(std::move(s), id);
      };
      asio::co_spawn(ex, std::move(session), asio::detached);
    }
  }

  // Asks admission about a new socket: closes it when refused (logging at most once a minute
  // per address), closes the idle connection it names to make room, and returns the new id.
  std::optional<connection_admission::connection_id> admit(tcp::socket& socket) {
    boost::system::error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    if (ec) {
      socket.close(ec);  // the peer is already gone
      return std::nullopt;
    }
    const auto address = ep.address().to_string();
    auto verdict = admission.admit(address, std::chrono::steady_clock::now());
    if (verdict.evict) {
      for (auto& c : connections)
        if (c.id == *verdict.evict) {
          c.evicted = true;
          c.stream->cancel();
        }
    }
    if (verdict.report) {
      const auto& r = *verdict.report;
      const bool per_client = r.reason == refusal_reason::client_limit;
      log.warn(per_client ? "connection refused: per-client limit reached"
                          : "connection refused: limit reached",
               {{"remote", r.address},
                {"refused", r.refused},
                {"limit", static_cast<std::uint64_t>(per_client ? options.max_connections_per_client
                                                                : options.max_connections)}});
    }
    if (!verdict.admitted) socket.close(ec);
    return verdict.admitted;
  }

  static http_response bad_request(unsigned status, std::string_view code, std::string detail) {
    auto res = problem(status, code, std::move(detail));
    res.set_header("Connection", "close");
    return res;
  }

  using request_parser = http::request_parser<http::string_body>;

  asio::awaitable<void> run_session(tcp::socket socket, connection_admission::connection_id id) {
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    beast::tcp_stream stream(std::move(socket));
    auto conn = connections.insert(connections.end(), connection{&stream, id, false});
    beast::flat_buffer buffer;
    buffer.reserve(8192);
    bool first = true;

    while (!stopping && !conn->evicted) {
      admission.set_busy(id, false, std::chrono::steady_clock::now());
      request_parser parser;
      parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      if (!co_await read_header(stream, buffer, parser, first, remote)) break;
      admission.set_busy(id, true, std::chrono::steady_clock::now());
      const auto started = std::chrono::steady_clock::now();
      http_request req = request_head(parser.get(), make_request_id());
      const std::string request_id = req.request_id;
      if (!co_await read_body(stream, buffer, parser, req, remote, started)) break;
      auto& msg = parser.get();
      const bool keep_alive = msg.keep_alive();
      take_message(msg, req);

      http_response res = co_await dispatch(req);
      res.set_header("X-Request-Id", request_id);
      const bool close_after = !keep_alive || stopping || res.header("Connection") == "close";
      bool ok = co_await write_response(stream, res, close_after, req.method, req.path, remote,
                                        started, request_id);
      if (!ok || close_after) break;
      first = false;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
    connections.erase(conn);
    admission.release(id);
    if (connections.empty()) drained.cancel();
  }

  // Reads a request header. On failure answers what deserves an answer (431, 413, 408, 400)
  // and returns false: the connection then closes.
  asio::awaitable<bool> read_header(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    request_parser& parser, bool first, const std::string& remote) {
    // Reads run under our own deadline (read_some_until) rather than the stream's expiry,
    // which would close the socket and leave no way to answer 408.
    const auto header_deadline =
        std::chrono::steady_clock::now() + (first ? options.read_timeout : options.idle_timeout);
    // Beast applies header_limit to what one parse step sees, not to a header that arrives
    // over several reads (fields parsed early are consumed), so count the bytes in total.
    boost::system::error_code ec;
    std::size_t header_bytes = 0;
    while (!parser.is_header_done()) {
      auto [rec, rn] = co_await read_some_until(stream, buffer, parser, header_deadline);
      header_bytes += rn;
      if (rec) {
        ec = rec;
        break;
      }
      if (header_bytes > options.header_limit) {
        ec = http::error::header_limit;
        break;
      }
    }
    std::optional<http_response> refusal;
    if (!ec) {
      auto framing = check_transfer_encoding(parser.get());
      if (!framing) co_return true;
      refusal = bad_request(400, "bad_request", std::move(*framing));
    } else {
      refusal = header_refusal(ec, header_bytes > 0 || buffer.size() > 0);
    }
    if (refusal) {
      const auto id = make_request_id();
      const auto at = std::chrono::steady_clock::now();
      const std::string none;
      co_await write_simple(stream, *refusal, none, none, remote, at, id);
      co_await drain(stream);
    }
    co_return false;
  }

  // What a header that failed to arrive gets as an answer, if anything.
  std::optional<http_response> header_refusal(boost::system::error_code ec, bool started) const {
    if (ec == http::error::header_limit)
      return bad_request(
          431, "header_fields_too_large",
          "request header exceeds " + std::to_string(options.header_limit) + " bytes");
    if (ec == http::error::body_limit) return too_large();
    if (ec == beast::error::timeout && started)
      return timed_out();  // a keep-alive connection that stays silent just closes
    if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
        ec != beast::error::timeout && ec != asio::error::eof &&
        ec != asio::error::connection_reset && started)
      return bad_request(400, "bad_request", "malformed HTTP request");
    return std::nullopt;
  }

  // Reads the body (after a 100 Continue when asked for); false, with any answer sent, when
  // the connection must close.
  asio::awaitable<bool> read_body(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                  request_parser& parser, const http_request& req,
                                  const std::string& remote,
                                  std::chrono::steady_clock::time_point started) {
    if (parser.get()[http::field::expect] == "100-continue") {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      stream.expires_after(options.write_timeout);
      co_await http::async_write(stream, cont, as_tuple_awaitable);
    }
    const auto body_deadline = std::chrono::steady_clock::now() + options.read_timeout;
    boost::system::error_code rec;
    while (!rec && !parser.is_done()) {
      auto [bec, bn] = co_await read_some_until(stream, buffer, parser, body_deadline);
      rec = bec;
    }
    if (!rec) co_return true;
    std::optional<http_response> refusal;
    if (rec == http::error::body_limit)
      refusal = too_large();
    else if (rec == beast::error::timeout)
      refusal = timed_out();
    else if (rec != asio::error::operation_aborted && rec != asio::error::eof &&
             rec != asio::error::connection_reset && rec != http::error::end_of_stream &&
             rec != http::error::partial_message)
      refusal = bad_request(400, "bad_request", "malformed HTTP request body");
    if (refusal) {
      // The path alone: a query may hold a secret (a download link's signature).
      const std::string path = req.target.substr(0, req.target.find('?'));
      co_await write_simple(stream, *refusal, req.method, path, remote, started, req.request_id);
      co_await drain(stream);
    }
    co_return false;
  }

  // Splits the target into path and query, then runs the handler.
  asio::awaitable<http_response> dispatch(http_request& req) {
    if (!split_target(req))
      co_return problem(400, "invalid_target", "the request target is not a valid origin-form URL");
    co_return co_await call_handler(req);
  }

  // After refusing a request whose bytes may still be arriving (a body over the limit, an
  // oversized header), closing at once would make the kernel answer them with a reset that can
  // destroy the refusal before the client reads it. So stop sending, then read and discard for a
  // bounded time and amount before the socket is closed.
  asio::awaitable<void> drain(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    std::array<char, 16 * 1024> scratch;
    const std::size_t limit = std::max<std::size_t>(8 * 1024 * 1024, 2 * options.body_limit);
    std::size_t total = 0;
    stream.expires_after(std::chrono::seconds(3));
    while (total < limit && !stopping) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), as_tuple_awaitable);
      if (ec) break;
      total += n;
    }
  }

  // One read step that gives up at `deadline` with beast::error::timeout while leaving the
  // socket open (the stream's own expiry would close it), so that a 408 can still be sent.
  asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some_until(
      beast::tcp_stream& stream, beast::flat_buffer& buffer,
      http::request_parser<http::string_body>& parser,
      std::chrono::steady_clock::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    stream.expires_never();
    asio::steady_timer timer(ex, deadline);
    auto read = http::async_read_some(stream, buffer, parser, as_tuple_awaitable);
    auto wait = timer.async_wait(as_tuple_awaitable);
    auto race = std::move(read) || std::move(wait);
    auto outcome = co_await std::move(race);
    if (outcome.index() == 1) co_return std::tuple{make_timeout(), std::size_t{0}};
    co_return std::get<0>(std::move(outcome));
  }

  static boost::system::error_code make_timeout() { return beast::error::timeout; }

  http_response timed_out() const {
    return bad_request(408, "request_timeout",
                       "the request was not received within " +
                           std::to_string(options.read_timeout.count()) + " ms");
  }

  http_response too_large() const {
    return bad_request(
        413, "body_too_large",
        "request body exceeds the limit of " + std::to_string(options.body_limit) + " bytes");
  }

  // The handler with its exceptions turned into a 500. Racing the deadline needs this: `||`
  // waits for the first *success*, so a handler that threw would otherwise be reported as a
  // timeout once the whole deadline had passed.
  asio::awaitable<http_response> guarded_handler(http_request& req) {
    try {
      co_return co_await handler(req);
    } catch (const std::exception& e) {
      log.error("handler failed",
                {{"request_id", req.request_id}, {"path", req.path}, {"error", e.what()}});
    } catch (...) {
      log.error("handler failed", {{"request_id", req.request_id}, {"path", req.path}});
    }
    co_return problem(
        500, "internal_error",
        "an internal error occurred; see the server log for request " + req.request_id);
  }

  asio::awaitable<http_response> call_handler(http_request& req) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer deadline(ex, options.handler_timeout);
    auto work = guarded_handler(req);
    auto wait = deadline.async_wait(as_tuple_awaitable);
    auto race = std::move(work) || std::move(wait);
    auto outcome = co_await std::move(race);
    if (outcome.index() == 0) co_return std::move(std::get<0>(outcome));
    log.error("handler timed out", {{"request_id", req.request_id}, {"path", req.path}});
    co_return problem(503, "handler_timeout", "the request took too long to process; retry later");
  }

  asio::awaitable<void> write_simple(beast::tcp_stream& stream, http_response& res,
                                     const std::string& method, const std::string& path,
                                     const std::string& remote,
                                     std::chrono::steady_clock::time_point started,
                                     const std::string& request_id) {
    res.set_header("X-Request-Id", request_id);
    co_await write_response(stream, res, true, method, path, remote, started, request_id);
  }

  asio::awaitable<bool> write_response(beast::tcp_stream& stream, http_response& res,
                                       bool close_after, const std::string& method,
                                       const std::string& path, const std::string& remote,
                                       std::chrono::steady_clock::time_point started,
                                       const std::string& request_id) {
    const auto w = co_await write_http_response(stream, res, close_after, method == "HEAD",
                                                options.write_timeout, log, request_id);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    log.info("request", {{"request_id", request_id},
                         {"method", method},
                         {"path", path},
                         {"status", res.status},
                         {"bytes", w.body_bytes},
                         {"duration_ms", static_cast<std::int64_t>(ms)},
                         {"remote", remote}});
    co_return w.ok;
  }
};

http_server::http_server(asio::any_io_executor ex, request_handler handler,
                         http_server_options options, logger& log)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(handler), options, log)) {}

http_server::~http_server() {
  boost::system::error_code ignored;
  impl_->stopping = true;
  impl_->acceptor.close(ignored);
}

boost::system::result<tcp::endpoint> http_server::listen(const std::string& host,
                                                         std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return ec;
  tcp::endpoint ep{address, port};
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (ec) return ec;
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  acc.bind(ep, ec);
  if (ec) return ec;
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  auto local = acc.local_endpoint(ec);
  if (ec) return ec;
  return local;
}

void http_server::start() {
  auto self = impl_;
  auto loop = [self]() -> asio::awaitable<void> { co_await self->accept_loop(); };
  asio::co_spawn(impl_->ex, std::move(loop), asio::detached);
}

asio::awaitable<void> http_server::shutdown(std::chrono::milliseconds grace) {
  auto self = impl_;
  self->stopping = true;
  boost::system::error_code ignored;
  self->acceptor.close(ignored);
  for (auto& c : self->connections)
    if (self->admission.idle(c.id)) c.stream->cancel();
  // A busy connection closes after its response (stopping); the last one to close wakes us. An
  // expiry means the grace is over.
  self->drained.expires_after(grace);
  while (!self->connections.empty()) {
    auto [ec] = co_await self->drained.async_wait(as_tuple_awaitable);
    if (!ec) break;
  }
  for (auto& c : self->connections) c.stream->cancel();
}

std::size_t http_server::active_connections() const {
  return impl_->connections.size();
}

}  // namespace respaldo
