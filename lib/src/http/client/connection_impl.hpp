// Private to the HTTP client: the state of one connection, shared by the connection's operations
// (connection.cpp, connection_body.cpp) and the pool (pool.cpp), plus the wire-level helpers.
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/http/client/client.hpp"

namespace respaldo {

class tls_context {
 public:
  tls_context() : ctx(boost::asio::ssl::context::tls_client) {}
  boost::asio::ssl::context ctx;
};

namespace http_detail {

inline constexpr auto nothrow_awaitable = boost::asio::as_tuple(boost::asio::use_awaitable);

using tls_stream_type = boost::beast::ssl_stream<boost::beast::tcp_stream>;

std::string_view default_port(bool tls);
// Host[:port] as the Host header and URLs show it (IPv6 literals in brackets).
std::string host_header(const http_origin& o);

}  // namespace http_detail

struct http_connection::impl {
  impl(boost::asio::any_io_executor e, http_origin o, http_client_options op,
       std::shared_ptr<tls_context> t);

  enum class body_mode { none, length, parsed };

  boost::asio::any_io_executor ex;
  http_origin origin;
  http_client_options opts;
  std::shared_ptr<tls_context> tls;
  boost::beast::tcp_stream plain;                         // the stream of http:// connections
  std::unique_ptr<http_detail::tls_stream_type> secured;  // the stream of https:// connections
  boost::beast::flat_buffer buffer;  // header bytes, and body bytes read with them
  std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser;

  body_mode mode = body_mode::none;
  std::uint64_t length = 0;     // Content-Length of the current body
  std::uint64_t remaining = 0;  // of that, still unread
  bool keep_alive = true;
  bool cancelled = false;
  bool failed = false;
  bool nothing_received = false;  // the last request failed before any response byte
  std::size_t completed = 0;      // responses read to their end
  std::string detail;
  boost::system::error_code last_error;

  boost::beast::tcp_stream& lowest() {
    return secured ? boost::beast::get_lowest_layer(*secured) : plain;
  }
  const boost::beast::tcp_stream& lowest() const {
    return secured ? boost::beast::get_lowest_layer(*secured) : plain;
  }

  // Calls f with the stream the connection uses; both variants yield the same awaitable type.
  template <class F>
  auto visit(F& f) {
    if (secured) return f(*secured);
    return f(plain);
  }

  void close_socket();
  boost::system::error_code classify(const boost::system::error_code& ec) const;
  // Records a failure, closes the connection and returns the code to report.
  boost::system::error_code fail(const boost::system::error_code& raw, const std::string& what);
  boost::system::error_code fail_with(boost::system::error_code ec);
  // Error to report when an operation starts on a connection that cannot do it.
  boost::system::error_code unusable();
  void finish_body();
  boost::asio::awaitable<boost::system::error_code> write_all(
      std::array<boost::asio::const_buffer, 2> bufs);
  // Reads the response header, skipping interim 1xx responses.
  boost::asio::awaitable<boost::system::error_code> read_head(bool head_request);
  // read_body_some for a Content-Length body, and for a chunked or close-delimited one.
  boost::asio::awaitable<boost::system::result<std::size_t>> read_length(
      boost::asio::mutable_buffer buf);
  boost::asio::awaitable<boost::system::result<std::size_t>> read_parsed(
      boost::asio::mutable_buffer buf);
  std::string where() const { return origin.host + ":" + origin.port; }

  // A code with this connection's reason for it, as the public operations report it.
  failure report(const boost::system::error_code& ec) const { return failure{ec, detail}; }
  template <class T>
  outcome<T> report(boost::system::result<T> r) const {
    if (r) return std::move(*r);
    return report(r.error());
  }
};

}  // namespace respaldo
