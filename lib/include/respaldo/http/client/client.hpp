// Asynchronous HTTP/1.1 client (plain and TLS) for the app-side exporter and the Drive storage.
//
// Everything runs as C++20 coroutines on the caller's executor. Failures are values:
//   - timeouts (connect or idle I/O step)       -> errc::timeout
//   - cancel() of an in-flight operation         -> errc::cancelled
//   - TLS handshake / certificate verification   -> errc::tls_error
//   - malformed or oversized HTTP, body too long,
//     connection closed inside a body            -> errc::http_protocol_error
//   - DNS and socket failures                     -> the asio code as is (e.g. connection_refused)
//   - a connection closed before any byte of the response -> boost::asio::error::eof
//   - misuse (bad header characters, request while a body is pending) -> errc::invalid_argument
// A human-readable reason travels with the code: every operation returns an outcome whose failure
// message is the reason (e.g. "TLS handshake with example.com:443 failed: certificate verify
// failed (unable to get local issuer certificate)"), so concurrent users of one client never read
// each other's.
//
// Bodies are not copied: request bodies are written from the caller's memory and response bodies
// are read into the caller's buffer (straight from the socket for Content-Length bodies).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "respaldo/core/error.hpp"

namespace respaldo {

// Scheme, host and port of a URL. `host` is lower-case, without brackets for IPv6 literals;
// `port` is always set (the scheme's default when the URL has none).
struct http_origin {
  bool tls = false;
  std::string host;
  std::string port;

  friend bool operator==(const http_origin&, const http_origin&) = default;
};

// Resolves origin.host (and port, "" for none) by the time `deadline` comes, else errc::timeout;
// Asio's resolver has no timeout of its own. Shared by connections and by checks of app addresses.
boost::asio::awaitable<outcome<boost::asio::ip::tcp::resolver::results_type>> resolve_origin(
    boost::asio::any_io_executor ex, const http_origin& origin,
    std::chrono::steady_clock::time_point deadline);

struct parsed_url {
  http_origin origin;
  std::string target;  // percent-encoded path and query, at least "/"; the fragment is dropped
};

// Parses an absolute http or https URL with a host. The error says what is wrong (it does not
// repeat the URL, which may carry secrets in its query).
outcome<parsed_url> parse_http_url(std::string_view url);

// Resolves a reference (absolute URL, "/path", "../x", "?q") against `base` (RFC 3986 section 5).
outcome<parsed_url> resolve_url(const parsed_url& base, std::string_view ref);

// "https://host:port" (the port only when not the scheme's default; IPv6 hosts in brackets).
std::string to_string(const http_origin& origin);
// The origin followed by the target.
std::string to_string(const parsed_url& url);

struct http_header_field {
  std::string name, value;
};

struct http_client_request {
  std::string method = "GET";
  std::string target = "/";
  // Host and User-Agent ("respaldo/<version>") are added unless given here. Content-Length is
  // always derived from `body` (sent when the body is not empty and for methods other than GET,
  // HEAD, DELETE, OPTIONS); giving Content-Length or Transfer-Encoding here is an error.
  std::vector<http_header_field> headers;
  std::string_view body;  // sent as is, not copied; must stay valid until request() completes
};

struct http_client_response_head {
  unsigned status = 0;
  std::string reason;
  std::vector<http_header_field> headers;       // in the order received
  std::optional<std::uint64_t> content_length;  // nullopt when chunked or delimited by close
  bool chunked = false;

  // First field of that name (case-insensitive).
  std::optional<std::string_view> header(std::string_view name) const;
};

struct http_client_options {
  std::chrono::milliseconds connect_timeout{10'000};  // resolve + TCP + TLS handshake
  std::chrono::milliseconds io_timeout{30'000};       // per read/write step (idle timeout)
  std::size_t header_limit = 64 * 1024;
  // Interim (1xx) responses skipped before the final one; a peer that sends more is refused
  // (errc::http_protocol_error) instead of holding the connection forever.
  std::size_t max_interim_responses = 8;
  // When set, every resolved address must pass it before a connection is made; the first
  // refusal is the failure when no address passes (see address_policy.hpp).
  std::function<outcome<void>(const boost::asio::ip::tcp::endpoint&)> endpoint_filter;
  std::string ca_file;  // extra trusted CA (PEM) in addition to the system CAs
  // An idle pooled connection older than this is closed instead of reused.
  std::chrono::milliseconds pool_idle_timeout{30'000};
};

// A client TLS configuration: the system's default CAs plus an optional extra CA file, TLS 1.2 or
// newer, peer verification on. Defined in the implementation; shared by connections.
class tls_context;

// errc::tls_error with the reason (e.g. an unreadable CA file) on failure.
outcome<std::shared_ptr<tls_context>> make_tls_context(const std::string& ca_file);

// One connection to an origin; keep-alive; sequential requests (one at a time, each response body
// consumed before the next request).
class http_connection {
 public:
  // Resolves, connects and (for https) performs the TLS handshake with SNI and host name
  // verification, all within opts.connect_timeout. `tls` may be null: a context with the system
  // CAs and opts.ca_file is then made for this connection.
  static boost::asio::awaitable<outcome<std::unique_ptr<http_connection>>> connect(
      boost::asio::any_io_executor ex, http_origin origin, http_client_options opts,
      std::shared_ptr<tls_context> tls);

  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // Sends the request (headers + body) and reads the response header (up to
  // opts.max_interim_responses interim 1xx responses are skipped). The body must then be consumed
  // with read_body_some / read_body_fill / read_body_all / discard_body before the next request.
  // `req` must stay valid until completion.
  boost::asio::awaitable<outcome<http_client_response_head>> request(
      const http_client_request& req);

  // Reads up to buf.size() body bytes directly into `buf`; returns 0 at the end of the body.
  // With a Content-Length body, reads go straight from the socket (after draining what the header
  // read already buffered) and never past the end of the body.
  boost::asio::awaitable<outcome<std::size_t>> read_body_some(boost::asio::mutable_buffer buf);
  // Fills `buf` completely unless the body ends first; returns the bytes read.
  boost::asio::awaitable<outcome<std::size_t>> read_body_fill(boost::asio::mutable_buffer buf);
  // The whole body; errc::http_protocol_error when it is longer than `limit` (the connection is
  // then closed).
  boost::asio::awaitable<outcome<std::string>> read_body_all(std::size_t limit);
  // Reads and drops the body; errc::http_protocol_error when it is longer than `limit`.
  boost::asio::awaitable<outcome<void>> discard_body(std::size_t limit);

  // Keep-alive on both sides, the body fully consumed and no error so far.
  bool reusable() const;
  // Whether this connection had already completed a response before the current request
  // (a failure before any response byte then usually means the server closed it while idle).
  bool reused() const;
  // Whether the last request failed before any response byte on a connection that had served
  // one before: the server closed it while idle, so the request may safely go on a new one.
  bool failed_before_response() const;
  // Cancels in-flight operations: they, and every later one, fail with errc::cancelled. Call it
  // from the connection's executor.
  void cancel();
  void close();
  const http_origin& origin() const;

  struct impl;  // defined in the implementation only

 private:
  friend class http_client;
  explicit http_connection(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Connection factory with a pool of at most one idle connection per origin (Drive chunk uploads
// reuse it). Safe to share between coroutines; connections themselves are not.
class http_client {
 public:
  http_client(boost::asio::any_io_executor ex, http_client_options opts,
              std::shared_ptr<tls_context> tls);

  // A pooled connection to `origin` that still looks alive, or a new one.
  boost::asio::awaitable<outcome<std::unique_ptr<http_connection>>> acquire(
      const http_origin& origin);
  // Keeps the connection for reuse only if reusable(); closes it otherwise.
  void release(std::unique_ptr<http_connection> conn);

  // Convenience for small JSON/form exchanges: acquire, request (target taken from `url`),
  // read_body_all(body_limit), release. A request on a pooled connection that fails before any
  // response byte arrives is retried once on a new connection.
  struct simple_response {
    http_client_response_head head;
    std::string body;
  };
  boost::asio::awaitable<outcome<simple_response>> fetch(const parsed_url& url,
                                                         http_client_request req,
                                                         std::size_t body_limit = 1 << 20);

  const http_client_options& options() const { return opts_; }
  boost::asio::any_io_executor get_executor() const { return ex_; }

 private:
  struct idle_connection {
    std::unique_ptr<http_connection> conn;
    std::chrono::steady_clock::time_point since;
  };
  boost::asio::any_io_executor ex_;
  http_client_options opts_;
  std::shared_ptr<tls_context> tls_;
  std::mutex mutex_;
  std::unordered_map<std::string, idle_connection> idle_;
};

}  // namespace respaldo
