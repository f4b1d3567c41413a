// One client connection: connect (resolve, TCP, TLS with host verification) and the request
// head. Bodies are read in connection_body.cpp.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <limits>

#include "connection_impl.hpp"
#include "respaldo/core/text.hpp"

#ifndef RESPALDO_VERSION
#define RESPALDO_VERSION "0.0.0"
#endif

namespace respaldo {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using http_detail::nothrow_awaitable;
using http_detail::tls_stream_type;

namespace {

bool is_token_char(unsigned char c) {
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_token_char(c); });
}

// Field values may hold anything but the characters that would end or split the header.
bool is_field_value(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool is_target(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Methods whose requests carry no body by convention: no "Content-Length: 0" for them.
bool bodyless_method(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "DELETE" || m == "OPTIONS";
}

const boost::system::error_category& http_category() {
  return http::make_error_code(http::error::end_of_stream).category();
}

bool is_tls_category(const error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

// The resolved addresses the options allow; the first refusal when none is.
outcome<std::vector<tcp::endpoint>> allowed_endpoints(const tcp::resolver::results_type& resolved,
                                                      const http_client_options& opts) {
  std::vector<tcp::endpoint> out;
  std::optional<failure> refusal;
  for (const auto& entry : resolved) {
    if (opts.endpoint_filter) {
      auto ok = opts.endpoint_filter(entry.endpoint());
      if (!ok) {
        if (!refusal) refusal = ok.error();
        continue;
      }
    }
    out.push_back(entry.endpoint());
  }
  if (out.empty() && refusal) return std::move(*refusal);
  return out;
}

// SNI carries names only (RFC 6066); the certificate must match the name or the address.
asio::awaitable<outcome<void>> handshake(http_connection::impl& p,
                                         std::chrono::steady_clock::time_point deadline) {
  const http_origin& origin = p.origin;
  SSL* handle = p.secured->native_handle();
  const bool ip = is_ip_literal(origin.host);
  bool configured =
      ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), origin.host.c_str()) == 1
         : SSL_set_tlsext_host_name(handle, origin.host.c_str()) == 1 &&
               SSL_set1_host(handle, origin.host.c_str()) == 1;
  if (!configured)
    co_return failure{errc::tls_error, "cannot set up TLS host verification for " + origin.host};
  error_code ignored;
  p.secured->set_verify_mode(ssl::verify_peer, ignored);
  p.lowest().expires_at(deadline);
  auto [hec] = co_await p.secured->async_handshake(ssl::stream_base::client, nothrow_awaitable);
  if (!hec) co_return outcome<void>{};
  if (hec == beast::error::timeout)
    co_return failure{errc::timeout, "TLS handshake with " + p.where() + " timed out"};
  const long verify = SSL_get_verify_result(handle);
  const std::string why = verify != X509_V_OK ? std::string("certificate verification failed: ") +
                                                    X509_verify_cert_error_string(verify)
                                              : hec.message();
  co_return failure{errc::tls_error, "TLS handshake with " + p.where() + " failed: " + why};
}

}  // namespace

// The resolver has no timeout of its own: a timer cancels it. The handler may run after the
// coroutine is gone, so it only holds shared state.
asio::awaitable<outcome<tcp::resolver::results_type>> resolve_origin(
    asio::any_io_executor ex, const http_origin& origin,
    std::chrono::steady_clock::time_point deadline) {
  auto resolver = std::make_shared<tcp::resolver>(ex);
  auto resolve_timed_out = std::make_shared<bool>(false);
  asio::steady_timer timer(ex);
  timer.expires_at(deadline);
  auto on_deadline = [resolver, resolve_timed_out](error_code ec) {
    if (ec) return;
    *resolve_timed_out = true;
    resolver->cancel();
  };
  timer.async_wait(on_deadline);
  auto [rec, endpoints] =
      co_await resolver->async_resolve(origin.host, origin.port, nothrow_awaitable);
  timer.cancel();
  if (*resolve_timed_out)
    co_return failure{errc::timeout, "resolving " + origin.host + " timed out"};
  if (rec) co_return failure{rec, "cannot resolve " + origin.host + ": " + rec.message()};
  co_return endpoints;
}

// ---------------------------------------------------------------------------------------------
// Connection state

http_connection::impl::impl(asio::any_io_executor e, http_origin o, http_client_options op,
                            std::shared_ptr<tls_context> t)
    : ex(std::move(e)),
      origin(std::move(o)),
      opts(std::move(op)),
      tls(std::move(t)),
      plain(ex),
      buffer(opts.header_limit + 64 * 1024) {
  buffer.reserve(std::min<std::size_t>(buffer.max_size(), 64 * 1024));
}

void http_connection::impl::close_socket() {
  error_code ignored;
  lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest().close();
}

error_code http_connection::impl::classify(const error_code& ec) const {
  if (cancelled) return errc::cancelled;
  if (ec == beast::error::timeout) return errc::timeout;
  if (ec.category() == http_category()) {
    if (ec == http::error::end_of_stream) return asio::error::eof;
    return errc::http_protocol_error;
  }
  if (is_tls_category(ec)) return errc::tls_error;
  return ec;
}

error_code http_connection::impl::fail(const error_code& raw, const std::string& what) {
  error_code ec = classify(raw);
  if (cancelled)
    detail = what + ": cancelled";
  else if (ec == errc::timeout)
    detail = what + ": no progress within " + std::to_string(opts.io_timeout.count()) + " ms";
  else
    detail = what + ": " + raw.message();
  return fail_with(ec);
}

error_code http_connection::impl::fail_with(error_code ec) {
  failed = true;
  last_error = ec;
  mode = body_mode::none;
  parser.reset();
  close_socket();
  return ec;
}

error_code http_connection::impl::unusable() {
  if (cancelled) {
    detail = "cancelled";
    return errc::cancelled;
  }
  if (failed) return last_error;
  if (!lowest().socket().is_open()) {
    detail = "connection is closed";
    return asio::error::not_connected;
  }
  return {};
}

void http_connection::impl::finish_body() {
  mode = body_mode::none;
  ++completed;
  if (parser && !parser->keep_alive()) keep_alive = false;
  parser.reset();
}

asio::awaitable<error_code> http_connection::impl::write_all(
    std::array<asio::const_buffer, 2> bufs) {
  beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(bufs);
  while (beast::buffer_bytes(rest) > 0) {
    lowest().expires_after(opts.io_timeout);
    auto op = [&](auto& s) { return s.async_write_some(rest, nothrow_awaitable); };
    auto [ec, n] = co_await visit(op);
    if (ec) co_return ec;
    rest.consume(n);
  }
  co_return error_code{};
}

asio::awaitable<error_code> http_connection::impl::read_head(bool head_request) {
  for (std::size_t interim = 0;; ++interim) {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(opts.header_limit, std::numeric_limits<std::uint32_t>::max())));
    // The body is read by this class into the caller's buffers, never accumulated.
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (head_request) parser->skip(true);
    lowest().expires_after(opts.io_timeout);
    auto op = [&](auto& stream) {
      return http::async_read_header(stream, buffer, *parser, nothrow_awaitable);
    };
    auto [ec, n] = co_await visit(op);
    if (ec) {
      nothing_received = !cancelled && ec != beast::error::timeout && buffer.size() == 0 &&
                         (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                          ec == ssl::error::stream_truncated);
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        detail = "response header from " + where() + " exceeds " +
                 std::to_string(opts.header_limit) + " bytes";
        co_return fail_with(errc::http_protocol_error);
      }
      co_return fail(ec, "reading the response header from " + where());
    }
    const unsigned status = parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) co_return error_code{};
    if (interim == opts.max_interim_responses) {
      detail = "more than " + std::to_string(opts.max_interim_responses) +
               " interim (1xx) responses from " + where();
      co_return fail_with(errc::http_protocol_error);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Connection

http_connection::http_connection(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
http_connection::~http_connection() = default;

asio::awaitable<outcome<std::unique_ptr<http_connection>>> http_connection::connect(
    asio::any_io_executor ex, http_origin origin, http_client_options opts,
    std::shared_ptr<tls_context> tls) {
  if (origin.host.empty() || origin.port.empty())
    co_return failure{errc::invalid_argument, "no host or port to connect to"};
  if (origin.tls && !tls) {
    auto made = make_tls_context(opts.ca_file);
    if (!made) co_return made.error();
    tls = std::move(*made);
  }
  const auto deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
  auto p = std::make_unique<impl>(ex, origin, opts, tls);
  auto resolved = co_await resolve_origin(ex, origin, deadline);
  if (!resolved) co_return resolved.error();
  auto endpoints = allowed_endpoints(*resolved, opts);
  if (!endpoints) co_return endpoints.error();

  if (origin.tls) p->secured = std::make_unique<tls_stream_type>(ex, tls->ctx);
  auto& low = p->lowest();
  low.expires_at(deadline);
  auto [cec, endpoint] = co_await low.async_connect(*endpoints, nothrow_awaitable);
  if (cec) {
    const error_code code = cec == beast::error::timeout ? error_code(errc::timeout) : cec;
    co_return failure{code, "cannot connect to " + p->where() + ": " + cec.message()};
  }
  error_code ignored;
  low.socket().set_option(tcp::no_delay(true), ignored);
  if (origin.tls) {
    auto shaken = co_await handshake(*p, deadline);
    if (!shaken) co_return shaken.error();
  }
  low.expires_never();
  co_return std::unique_ptr<http_connection>(new http_connection(std::move(p)));
}

namespace {

struct request_head {
  std::string text;
  bool asks_close = false;
};

// The request head, checked so that no field can smuggle a line break onto the wire.
boost::system::result<request_head> build_head(const http_client_request& req,
                                               const http_origin& origin, std::string& detail) {
  if (!is_token(req.method) || !is_target(req.target)) {
    detail = "invalid request method or target";
    return errc::invalid_argument;
  }
  request_head out;
  std::string& head = out.text;
  head.reserve(256);
  head.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
  bool has_host = false, has_agent = false;
  for (const auto& f : req.headers) {
    if (!is_token(f.name) || !is_field_value(f.value)) {
      detail = "invalid request header field '" + f.name + "'";
      return errc::invalid_argument;
    }
    if (iequals(f.name, "Content-Length") || iequals(f.name, "Transfer-Encoding")) {
      detail = "Content-Length is derived from the body; Transfer-Encoding is not supported";
      return errc::invalid_argument;
    }
    has_host |= iequals(f.name, "Host");
    has_agent |= iequals(f.name, "User-Agent");
    out.asks_close |= iequals(f.name, "Connection") && iequals(f.value, "close");
    head.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  if (!has_host) head.append("Host: ").append(http_detail::host_header(origin)).append("\r\n");
  if (!has_agent) head.append("User-Agent: respaldo/" RESPALDO_VERSION "\r\n");
  if (!req.body.empty() || !bodyless_method(req.method))
    head.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
  head.append("\r\n");
  return out;
}

asio::awaitable<boost::system::result<http_client_response_head>> send_request(
    http_connection::impl& s, const http_client_request& req) {
  using impl = http_connection::impl;
  if (auto ec = s.unusable()) co_return ec;
  if (s.mode != impl::body_mode::none) {
    s.detail = "the previous response body was not consumed";
    co_return errc::invalid_argument;
  }
  auto head = build_head(req, s.origin, s.detail);
  if (!head) co_return head.error();

  s.nothing_received = false;
  if (s.buffer.size() != 0) {
    // Bytes nobody asked for arrived after the previous response: the stream cannot be trusted.
    s.detail = "unexpected data from the server before the request";
    co_return s.fail_with(errc::http_protocol_error);
  }
  // Named first: g++ 12 miscompiles brace-initialized temporaries inside a co_await expression.
  const std::array<asio::const_buffer, 2> wire{asio::buffer(head->text), asio::buffer(req.body)};
  if (auto ec = co_await s.write_all(wire)) {
    s.nothing_received = !s.cancelled && ec != beast::error::timeout;
    co_return s.fail(ec, "sending the request to " + s.where());
  }
  if (head->asks_close) s.keep_alive = false;
  if (auto ec = co_await s.read_head(req.method == "HEAD")) co_return ec;

  const auto& msg = s.parser->get();
  http_client_response_head h;
  h.status = msg.result_int();
  h.reason = std::string(msg.reason());
  for (const auto& f : msg)
    h.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  h.chunked = s.parser->chunked();
  if (!h.chunked) {
    if (auto cl = s.parser->content_length()) h.content_length = *cl;
  }
  if (s.parser->is_done()) {
    s.finish_body();
  } else if (h.content_length) {
    // Body bytes are then read straight from the socket; the parser is no longer needed.
    s.mode = impl::body_mode::length;
    s.length = s.remaining = *h.content_length;
    if (!s.parser->keep_alive()) s.keep_alive = false;
    s.parser.reset();
  } else {
    s.mode = impl::body_mode::parsed;
  }
  co_return h;
}

}  // namespace

asio::awaitable<outcome<http_client_response_head>> http_connection::request(
    const http_client_request& req) {
  co_return impl_->report(co_await send_request(*impl_, req));
}

bool http_connection::reusable() const {
  const impl& s = *impl_;
  return !s.failed && !s.cancelled && s.keep_alive && s.mode == impl::body_mode::none &&
         s.buffer.size() == 0 && s.lowest().socket().is_open();
}

bool http_connection::reused() const {
  return impl_->completed > 0;
}

bool http_connection::failed_before_response() const {
  return reused() && impl_->nothing_received;
}

void http_connection::cancel() {
  impl_->cancelled = true;
  impl_->lowest().cancel();
}

void http_connection::close() {
  impl& s = *impl_;
  if (s.failed) return;
  // Later operations must fail: a body cut off here must never read as complete.
  s.detail = "connection closed by the client";
  s.keep_alive = false;
  s.fail_with(asio::error::not_connected);
}

const http_origin& http_connection::origin() const {
  return impl_->origin;
}

}  // namespace respaldo
