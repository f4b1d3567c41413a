#include "respaldo/http/client/client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <limits>

#ifndef RESPALDO_VERSION
#define RESPALDO_VERSION "0.0.0"
#endif

namespace respaldo {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace urls = boost::urls;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);

using url_result = boost::system::result<parsed_url, std::string>;

url_result url_error(std::string message) {
  return url_result(boost::system::in_place_error, std::move(message));
}

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

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view default_port(bool tls) {
  return tls ? "443" : "80";
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string host_header(const http_origin& o) {
  std::string h = host_for_url(o.host);
  if (o.port != default_port(o.tls)) h += ":" + o.port;
  return h;
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

}  // namespace

// ---------------------------------------------------------------------------------------------
// URLs

url_result parse_http_url(std::string_view text) {
  auto r = urls::parse_uri(text);
  if (!r) return url_error("not an absolute URL (" + r.error().message() + ")");
  const urls::url_view& u = *r;
  bool tls = false;
  if (u.scheme_id() == urls::scheme::https) {
    tls = true;
  } else if (u.scheme_id() != urls::scheme::http) {
    return url_error("unsupported scheme '" + std::string(u.scheme()) +
                     "' (http or https expected)");
  }
  if (!u.has_authority() || u.host_type() == urls::host_type::none || u.encoded_host().empty())
    return url_error("URL has no host");
  if (u.has_userinfo()) return url_error("credentials in the URL are not supported");
  if (u.host_type() == urls::host_type::ipvfuture)
    return url_error("unsupported host address format");

  parsed_url out;
  out.origin.tls = tls;
  std::string host = u.host_address();
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (u.host_type() == urls::host_type::name) {
    const bool valid = std::all_of(host.begin(), host.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
    if (!valid) return url_error("invalid host name");
  }
  out.origin.host = std::move(host);

  if (u.has_port() && !u.port().empty()) {
    std::string_view p = u.port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535)
      return url_error("invalid port '" + std::string(p) + "'");
    out.origin.port = std::to_string(value);
  } else {
    out.origin.port = std::string(default_port(tls));
  }

  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  return out;
}

url_result resolve_url(const parsed_url& base, std::string_view ref) {
  auto r = urls::parse_uri_reference(ref);
  if (!r) return url_error("invalid URL reference (" + r.error().message() + ")");
  const std::string base_text = to_string(base);
  auto b = urls::parse_uri(base_text);
  if (!b) return url_error("invalid base URL (" + b.error().message() + ")");
  urls::url dest;
  auto resolved = urls::resolve(*b, *r, dest);
  if (!resolved) return url_error("cannot resolve reference (" + resolved.error().message() + ")");
  return parse_http_url(dest.buffer());
}

std::string to_string(const http_origin& origin) {
  std::string s = origin.tls ? "https://" : "http://";
  s += host_header(origin);
  return s;
}

std::string to_string(const parsed_url& url) {
  return to_string(url.origin) + url.target;
}

std::optional<std::string_view> http_client_response_head::header(std::string_view name) const {
  for (const auto& f : headers)
    if (iequals(f.name, name)) return std::string_view(f.value);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// TLS

class tls_context {
 public:
  tls_context() : ctx(ssl::context::tls_client) {}
  ssl::context ctx;
};

std::shared_ptr<tls_context> make_tls_context(const std::string& ca_file, std::string* error) {
  auto fail = [&](std::string message) -> std::shared_ptr<tls_context> {
    if (error) *error = std::move(message);
    return nullptr;
  };
  auto t = std::make_shared<tls_context>();
  auto& c = t->ctx;
  error_code ec;
  c.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                ec);
  if (ec) return fail("cannot configure TLS: " + ec.message());
  if (SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_2_VERSION) != 1)
    return fail("cannot require TLS 1.2 or newer");
  c.set_default_verify_paths(ec);
  if (ec) return fail("cannot load the system's trusted CAs: " + ec.message());
  if (!ca_file.empty()) {
    if (!std::ifstream(ca_file)) return fail("cannot read CA file '" + ca_file + "'");
    c.load_verify_file(ca_file, ec);
    if (ec) return fail("cannot load CA file '" + ca_file + "': " + ec.message());
  }
  c.set_verify_mode(ssl::verify_peer, ec);
  if (ec) return fail("cannot enable peer verification: " + ec.message());
  return t;
}

// ---------------------------------------------------------------------------------------------
// Connection

using tls_stream_type = beast::ssl_stream<beast::tcp_stream>;

struct http_connection::impl {
  impl(asio::any_io_executor e, http_origin o, http_client_options op,
       std::shared_ptr<tls_context> t)
      : ex(std::move(e)),
        origin(std::move(o)),
        opts(std::move(op)),
        tls(std::move(t)),
        plain(ex),
        buffer(opts.header_limit + 64 * 1024) {
    buffer.reserve(std::min<std::size_t>(buffer.max_size(), 64 * 1024));
  }

  enum class body_mode { none, length, parsed };

  asio::any_io_executor ex;
  http_origin origin;
  http_client_options opts;
  std::shared_ptr<tls_context> tls;
  beast::tcp_stream plain;                   // the stream of http:// connections
  std::unique_ptr<tls_stream_type> secured;  // the stream of https:// connections
  beast::flat_buffer buffer;                 // header bytes, and body bytes read with them
  std::optional<http::response_parser<http::buffer_body>> parser;

  body_mode mode = body_mode::none;
  std::uint64_t length = 0;     // Content-Length of the current body
  std::uint64_t remaining = 0;  // of that, still unread
  bool keep_alive = true;
  bool cancelled = false;
  bool failed = false;
  bool nothing_received = false;  // the last request failed before any response byte
  std::size_t completed = 0;      // responses read to their end
  std::string detail;
  error_code last_error;

  beast::tcp_stream& lowest() { return secured ? beast::get_lowest_layer(*secured) : plain; }
  const beast::tcp_stream& lowest() const {
    return secured ? beast::get_lowest_layer(*secured) : plain;
  }

  // Calls f with the stream the connection uses; both variants yield the same awaitable type.
  template <class F>
  auto visit(F& f) {
    if (secured) return f(*secured);
    return f(plain);
  }

  void close_socket() {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  error_code classify(const error_code& ec) const {
    if (cancelled) return errc::cancelled;
    if (ec == beast::error::timeout) return errc::timeout;
    if (ec.category() == http_category()) {
      if (ec == http::error::end_of_stream) return asio::error::eof;
      return errc::http_protocol_error;
    }
    if (is_tls_category(ec)) return errc::tls_error;
    return ec;
  }

  // Records a failure, closes the connection and returns the code to report.
  error_code fail(const error_code& raw, const std::string& what) {
    error_code ec = classify(raw);
    if (cancelled)
      detail = what + ": cancelled";
    else if (ec == errc::timeout)
      detail = what + ": no progress within " + std::to_string(opts.io_timeout.count()) + " ms";
    else
      detail = what + ": " + raw.message();
    return fail_with(ec);
  }
  error_code fail_with(error_code ec) {
    failed = true;
    last_error = ec;
    mode = body_mode::none;
    parser.reset();
    close_socket();
    return ec;
  }

  // Error to report when an operation starts on a connection that cannot do it.
  error_code unusable() {
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

  void finish_body() {
    mode = body_mode::none;
    ++completed;
    if (parser && !parser->keep_alive()) keep_alive = false;
    parser.reset();
  }

  asio::awaitable<error_code> write_all(std::array<asio::const_buffer, 2> bufs) {
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

  std::string where() const { return origin.host + ":" + origin.port; }
};

http_connection::http_connection(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
http_connection::~http_connection() = default;

asio::awaitable<boost::system::result<std::unique_ptr<http_connection>>> http_connection::connect(
    asio::any_io_executor ex, http_origin origin, http_client_options opts,
    std::shared_ptr<tls_context> tls, std::string* error_detail) {
  auto report = [error_detail](std::string message) {
    if (error_detail) *error_detail = std::move(message);
  };
  if (origin.host.empty() || origin.port.empty()) {
    report("no host or port to connect to");
    co_return errc::invalid_argument;
  }
  if (origin.tls && !tls) {
    std::string why;
    tls = make_tls_context(opts.ca_file, &why);
    if (!tls) {
      report(why);
      co_return errc::tls_error;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
  auto p = std::make_unique<impl>(ex, origin, opts, tls);
  const std::string where = p->where();

  // The resolver has no timeout of its own: a timer cancels it. The handler may run after this
  // coroutine is gone, so it only holds shared state.
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
  if (*resolve_timed_out) {
    report("resolving " + origin.host + " timed out");
    co_return errc::timeout;
  }
  if (rec) {
    report("cannot resolve " + origin.host + ": " + rec.message());
    co_return rec;
  }

  if (origin.tls) p->secured = std::make_unique<tls_stream_type>(ex, tls->ctx);
  auto& low = p->lowest();
  low.expires_at(deadline);
  auto [cec, endpoint] = co_await low.async_connect(endpoints, nothrow_awaitable);
  if (cec) {
    report("cannot connect to " + where + ": " + cec.message());
    co_return cec == beast::error::timeout ? error_code(errc::timeout) : cec;
  }
  error_code ignored;
  low.socket().set_option(tcp::no_delay(true), ignored);

  if (origin.tls) {
    SSL* handle = p->secured->native_handle();
    const bool ip = is_ip_literal(origin.host);
    // SNI carries names only (RFC 6066); the certificate must match the name or the address.
    bool configured =
        ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), origin.host.c_str()) == 1
           : SSL_set_tlsext_host_name(handle, origin.host.c_str()) == 1 &&
                 SSL_set1_host(handle, origin.host.c_str()) == 1;
    if (!configured) {
      report("cannot set up TLS host verification for " + origin.host);
      co_return errc::tls_error;
    }
    p->secured->set_verify_mode(ssl::verify_peer, ignored);
    low.expires_at(deadline);
    auto [hec] = co_await p->secured->async_handshake(ssl::stream_base::client, nothrow_awaitable);
    if (hec) {
      if (hec == beast::error::timeout) {
        report("TLS handshake with " + where + " timed out");
        co_return errc::timeout;
      }
      const long verify = SSL_get_verify_result(handle);
      const std::string why = verify != X509_V_OK
                                  ? std::string("certificate verification failed: ") +
                                        X509_verify_cert_error_string(verify)
                                  : hec.message();
      report("TLS handshake with " + where + " failed: " + why);
      co_return errc::tls_error;
    }
  }
  low.expires_never();
  co_return std::unique_ptr<http_connection>(new http_connection(std::move(p)));
}

asio::awaitable<boost::system::result<http_client_response_head>> http_connection::request(
    const http_client_request& req) {
  impl& s = *impl_;
  if (auto ec = s.unusable()) co_return ec;
  if (s.mode != impl::body_mode::none) {
    s.detail = "the previous response body was not consumed";
    co_return errc::invalid_argument;
  }

  // Request head, checked so that no field can smuggle a line break onto the wire.
  if (!is_token(req.method) || !is_target(req.target)) {
    s.detail = "invalid request method or target";
    co_return errc::invalid_argument;
  }
  std::string head;
  head.reserve(256);
  head.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
  bool has_host = false, has_agent = false, asks_close = false;
  for (const auto& f : req.headers) {
    if (!is_token(f.name) || !is_field_value(f.value)) {
      s.detail = "invalid request header field '" + f.name + "'";
      co_return errc::invalid_argument;
    }
    if (iequals(f.name, "Content-Length") || iequals(f.name, "Transfer-Encoding")) {
      s.detail = "Content-Length is derived from the body; Transfer-Encoding is not supported";
      co_return errc::invalid_argument;
    }
    has_host |= iequals(f.name, "Host");
    has_agent |= iequals(f.name, "User-Agent");
    asks_close |= iequals(f.name, "Connection") && iequals(f.value, "close");
    head.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  if (!has_host) head.append("Host: ").append(host_header(s.origin)).append("\r\n");
  if (!has_agent) head.append("User-Agent: respaldo/" RESPALDO_VERSION "\r\n");
  if (!req.body.empty() || !bodyless_method(req.method))
    head.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
  head.append("\r\n");

  s.nothing_received = false;
  if (s.buffer.size() != 0) {
    // Bytes nobody asked for arrived after the previous response: the stream cannot be trusted.
    s.detail = "unexpected data from the server before the request";
    co_return s.fail_with(errc::http_protocol_error);
  }
  // Named first: g++ 12 miscompiles brace-initialized temporaries inside a co_await expression.
  const std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(req.body)};
  if (auto ec = co_await s.write_all(wire)) {
    s.nothing_received = !s.cancelled && ec != beast::error::timeout;
    co_return s.fail(ec, "sending the request to " + s.where());
  }
  if (asks_close) s.keep_alive = false;

  for (;;) {
    s.parser.emplace();
    s.parser->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(s.opts.header_limit, std::numeric_limits<std::uint32_t>::max())));
    // The body is read by this class into the caller's buffers, never accumulated.
    s.parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (req.method == "HEAD") s.parser->skip(true);
    s.lowest().expires_after(s.opts.io_timeout);
    auto op = [&](auto& stream) {
      return http::async_read_header(stream, s.buffer, *s.parser, nothrow_awaitable);
    };
    auto [ec, n] = co_await s.visit(op);
    if (ec) {
      s.nothing_received =
          !s.cancelled && ec != beast::error::timeout && s.buffer.size() == 0 &&
          (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == ssl::error::stream_truncated);
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        s.detail = "response header from " + s.where() + " exceeds " +
                   std::to_string(s.opts.header_limit) + " bytes";
        co_return s.fail_with(errc::http_protocol_error);
      }
      co_return s.fail(ec, "reading the response header from " + s.where());
    }
    const unsigned status = s.parser->get().result_int();
    if (status >= 100 && status < 200 && status != 101) continue;  // interim response
    break;
  }

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

asio::awaitable<boost::system::result<std::size_t>> http_connection::read_body_some(
    asio::mutable_buffer buf) {
  impl& s = *impl_;
  if (s.cancelled || s.failed) co_return s.unusable();
  if (s.mode == impl::body_mode::none) co_return std::size_t{0};
  if (buf.size() == 0) {
    s.detail = "empty buffer for a response body";
    co_return errc::invalid_argument;
  }

  if (s.mode == impl::body_mode::length) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), s.remaining));
    std::size_t got = 0;
    if (s.buffer.size() > 0) {
      got = asio::buffer_copy(asio::buffer(buf.data(), want), s.buffer.data());
      s.buffer.consume(got);
    } else {
      s.lowest().expires_after(s.opts.io_timeout);
      auto op = [&](auto& stream) {
        return stream.async_read_some(asio::buffer(buf.data(), want), nothrow_awaitable);
      };
      auto [ec, n] = co_await s.visit(op);
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        s.detail = "connection closed after " + std::to_string(s.length - s.remaining) + " of " +
                   std::to_string(s.length) + " body bytes from " + s.where();
        co_return s.fail_with(errc::http_protocol_error);
      }
      if (ec) co_return s.fail(ec, "reading the response body from " + s.where());
      got = n;
    }
    s.remaining -= got;
    if (s.remaining == 0) s.finish_body();
    co_return got;
  }

  // Chunked or close-delimited: Beast's parser decodes into the caller's buffer.
  for (;;) {
    auto& body = s.parser->get().body();
    body.data = buf.data();
    body.size = buf.size();
    body.more = true;
    s.lowest().expires_after(s.opts.io_timeout);
    auto op = [&](auto& stream) {
      return http::async_read_some(stream, s.buffer, *s.parser, nothrow_awaitable);
    };
    auto [ec, n] = co_await s.visit(op);
    const std::size_t got = buf.size() - s.parser->get().body().size;
    if (ec == http::error::need_buffer) ec = {};  // the caller's buffer is full
    if (ec == ssl::error::stream_truncated && s.parser->need_eof()) {
      // A close-delimited body over TLS ended without close_notify, as many servers do.
      ec = {};
      s.parser->put_eof(ec);
    }
    if (ec == http::error::partial_message || ec == ssl::error::stream_truncated) {
      s.detail = "connection closed before the end of the response body from " + s.where();
      co_return s.fail_with(errc::http_protocol_error);
    }
    if (ec) co_return s.fail(ec, "reading the response body from " + s.where());
    if (s.parser->is_done()) {
      s.finish_body();
      co_return got;
    }
    if (got > 0) co_return got;
  }
}

asio::awaitable<boost::system::result<std::size_t>> http_connection::read_body_fill(
    asio::mutable_buffer buf) {
  std::size_t total = 0;
  while (total < buf.size()) {
    auto r = co_await read_body_some(buf + total);
    if (!r) co_return r.error();
    if (*r == 0) break;
    total += *r;
  }
  co_return total;
}

asio::awaitable<boost::system::result<std::string>> http_connection::read_body_all(
    std::size_t limit) {
  impl& s = *impl_;
  auto too_long = [&] {
    s.detail = "response body from " + s.where() + " exceeds " + std::to_string(limit) + " bytes";
    return s.fail_with(errc::http_protocol_error);
  };
  std::string out;
  if (s.mode == impl::body_mode::length) {
    if (s.remaining > limit) co_return too_long();
    out.resize(static_cast<std::size_t>(s.remaining));
    auto r = co_await read_body_fill(asio::buffer(out));
    if (!r) co_return r.error();
    co_return out;
  }
  constexpr std::size_t step = 16 * 1024;
  for (;;) {
    const std::size_t used = out.size();
    // One byte past the limit is enough to know the body is too long.
    const std::size_t room = std::min(step, limit - std::min(limit, used) + 1);
    out.resize(used + room);
    auto r = co_await read_body_some(asio::buffer(out.data() + used, room));
    if (!r) co_return r.error();
    out.resize(used + *r);
    if (*r == 0) break;
    if (out.size() > limit) co_return too_long();
  }
  co_return out;
}

asio::awaitable<error_code> http_connection::discard_body(std::size_t limit) {
  impl& s = *impl_;
  auto too_long = [&] {
    s.detail = "response body from " + s.where() + " exceeds " + std::to_string(limit) + " bytes";
    return s.fail_with(errc::http_protocol_error);
  };
  if (s.mode == impl::body_mode::length && s.remaining > limit) co_return too_long();
  std::vector<char> scratch(16 * 1024);
  std::size_t total = 0;
  for (;;) {
    auto r = co_await read_body_some(asio::buffer(scratch));
    if (!r) co_return r.error();
    if (*r == 0) break;
    total += *r;
    if (total > limit) co_return too_long();
  }
  co_return error_code{};
}

bool http_connection::reusable() const {
  const impl& s = *impl_;
  return !s.failed && !s.cancelled && s.keep_alive && s.mode == impl::body_mode::none &&
         s.buffer.size() == 0 && s.lowest().socket().is_open();
}

bool http_connection::reused() const {
  return impl_->completed > 0;
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

const std::string& http_connection::last_error_detail() const {
  return impl_->detail;
}

// ---------------------------------------------------------------------------------------------
// Client with a small pool

namespace {

// Whether an idle connection still looks usable (a cheap non-blocking peek): not closed by the
// peer, and no unsolicited bytes waiting. On an idle TLS connection such bytes are almost always
// a close_notify alert (session tickets arrive before the first response), so both count as dead.
bool idle_socket_usable(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  return false;
}

}  // namespace

http_client::http_client(asio::any_io_executor ex, http_client_options opts,
                         std::shared_ptr<tls_context> tls)
    : ex_(std::move(ex)), opts_(std::move(opts)), tls_(std::move(tls)) {}

asio::awaitable<boost::system::result<std::unique_ptr<http_connection>>> http_client::acquire(
    const http_origin& origin, std::string* error_detail) {
  const std::string key = to_string(origin);
  std::unique_ptr<http_connection> pooled;
  std::shared_ptr<tls_context> tls;
  {
    std::lock_guard lock(mutex_);
    if (auto it = idle_.find(key); it != idle_.end()) {
      const bool fresh =
          std::chrono::steady_clock::now() - it->second.since < opts_.pool_idle_timeout;
      if (fresh) pooled = std::move(it->second.conn);
      idle_.erase(it);
    }
    if (origin.tls && !tls_) {
      std::string why;
      tls_ = make_tls_context(opts_.ca_file, &why);
      if (!tls_) {
        if (error_detail) *error_detail = why;
        co_return errc::tls_error;
      }
    }
    tls = tls_;
  }
  if (pooled && pooled->reusable() &&
      idle_socket_usable(pooled->impl_->lowest().socket().native_handle()))
    co_return std::move(pooled);
  pooled.reset();
  co_return co_await http_connection::connect(ex_, origin, opts_, std::move(tls), error_detail);
}

void http_client::release(std::unique_ptr<http_connection> conn) {
  if (!conn) return;
  if (!conn->reusable()) {
    conn->close();
    return;
  }
  const std::string key = to_string(conn->origin());
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<http_connection>> dropped;  // closed after the lock is released
  std::lock_guard lock(mutex_);
  // Connections to origins nobody asked for again would otherwise linger until exit.
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (now - it->second.since >= opts_.pool_idle_timeout) {
      dropped.push_back(std::move(it->second.conn));
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  auto& slot = idle_[key];
  dropped.push_back(std::move(slot.conn));  // at most one idle connection per origin
  slot.conn = std::move(conn);
  slot.since = now;
}

asio::awaitable<boost::system::result<http_client::simple_response>> http_client::fetch(
    const parsed_url& url, http_client_request req, std::size_t body_limit,
    std::string* error_detail) {
  auto report = [error_detail](const std::string& message) {
    if (error_detail) *error_detail = message;
  };
  req.target = url.target;
  for (int attempt = 0;; ++attempt) {
    std::string why;
    auto c = co_await acquire(url.origin, &why);
    if (!c) {
      report(why);
      co_return c.error();
    }
    std::unique_ptr<http_connection> conn = std::move(*c);
    auto head = co_await conn->request(req);
    if (!head) {
      // A pooled connection the server closed while idle: the request never got anywhere.
      if (attempt == 0 && conn->reused() && conn->impl_->nothing_received) continue;
      report(conn->last_error_detail());
      co_return head.error();
    }
    auto body = co_await conn->read_body_all(body_limit);
    if (!body) {
      report(conn->last_error_detail());
      co_return body.error();
    }
    release(std::move(conn));
    simple_response out{std::move(*head), std::move(*body)};
    co_return out;
  }
}

}  // namespace respaldo
