// Reading response bodies into the caller's buffers: Content-Length bodies straight from the
// socket, chunked and close-delimited ones through Beast's parser.
#include <vector>

#include "connection_impl.hpp"

namespace respaldo {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;
using http_detail::nothrow_awaitable;

asio::awaitable<boost::system::result<std::size_t>> http_connection::impl::read_length(
    asio::mutable_buffer buf) {
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), remaining));
  std::size_t got = 0;
  if (buffer.size() > 0) {
    got = asio::buffer_copy(asio::buffer(buf.data(), want), buffer.data());
    buffer.consume(got);
  } else {
    lowest().expires_after(opts.io_timeout);
    auto op = [&](auto& stream) {
      return stream.async_read_some(asio::buffer(buf.data(), want), nothrow_awaitable);
    };
    auto [ec, n] = co_await visit(op);
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      detail = "connection closed after " + std::to_string(length - remaining) + " of " +
               std::to_string(length) + " body bytes from " + where();
      co_return fail_with(errc::http_protocol_error);
    }
    if (ec) co_return fail(ec, "reading the response body from " + where());
    got = n;
  }
  remaining -= got;
  if (remaining == 0) finish_body();
  co_return got;
}

asio::awaitable<boost::system::result<std::size_t>> http_connection::impl::read_parsed(
    asio::mutable_buffer buf) {
  for (;;) {
    auto& body = parser->get().body();
    body.data = buf.data();
    body.size = buf.size();
    body.more = true;
    lowest().expires_after(opts.io_timeout);
    auto op = [&](auto& stream) {
      return http::async_read_some(stream, buffer, *parser, nothrow_awaitable);
    };
    auto [ec, n] = co_await visit(op);
    const std::size_t got = buf.size() - parser->get().body().size;
    if (ec == http::error::need_buffer) ec = {};  // the caller's buffer is full
    if (ec == ssl::error::stream_truncated && parser->need_eof()) {
      // A close-delimited body over TLS ended without close_notify, as many servers do.
      ec = {};
      parser->put_eof(ec);
    }
    if (ec == http::error::partial_message || ec == ssl::error::stream_truncated) {
      detail = "connection closed before the end of the response body from " + where();
      co_return fail_with(errc::http_protocol_error);
    }
    if (ec) co_return fail(ec, "reading the response body from " + where());
    if (parser->is_done()) {
      finish_body();
      co_return got;
    }
    if (got > 0) co_return got;
  }
}

namespace {

using connection_impl = http_connection::impl;

asio::awaitable<boost::system::result<std::size_t>> body_some(connection_impl& s,
                                                              asio::mutable_buffer buf) {
  if (s.cancelled || s.failed) co_return s.unusable();
  if (s.mode == connection_impl::body_mode::none) co_return std::size_t{0};
  if (buf.size() == 0) {
    s.detail = "empty buffer for a response body";
    co_return errc::invalid_argument;
  }
  if (s.mode == connection_impl::body_mode::length) co_return co_await s.read_length(buf);
  co_return co_await s.read_parsed(buf);
}

asio::awaitable<boost::system::result<std::size_t>> body_fill(connection_impl& s,
                                                              asio::mutable_buffer buf) {
  std::size_t total = 0;
  while (total < buf.size()) {
    auto r = co_await body_some(s, buf + total);
    if (!r) co_return r.error();
    if (*r == 0) break;
    total += *r;
  }
  co_return total;
}

asio::awaitable<boost::system::result<std::string>> body_all(connection_impl& s,
                                                             std::size_t limit) {
  auto too_long = [&] {
    s.detail = "response body from " + s.where() + " exceeds " + std::to_string(limit) + " bytes";
    return s.fail_with(errc::http_protocol_error);
  };
  std::string out;
  if (s.mode == connection_impl::body_mode::length) {
    if (s.remaining > limit) co_return too_long();
    out.resize(static_cast<std::size_t>(s.remaining));
    auto r = co_await body_fill(s, asio::buffer(out));
    if (!r) co_return r.error();
    co_return out;
  }
  constexpr std::size_t step = 16 * 1024;
  for (;;) {
    const std::size_t used = out.size();
    // One byte past the limit is enough to know the body is too long.
    const std::size_t room = std::min(step, limit - std::min(limit, used) + 1);
    out.resize(used + room);
    auto r = co_await body_some(s, asio::buffer(out.data() + used, room));
    if (!r) co_return r.error();
    out.resize(used + *r);
    if (*r == 0) break;
    if (out.size() > limit) co_return too_long();
  }
  co_return out;
}

asio::awaitable<error_code> body_discard(connection_impl& s, std::size_t limit) {
  auto too_long = [&] {
    s.detail = "response body from " + s.where() + " exceeds " + std::to_string(limit) + " bytes";
    return s.fail_with(errc::http_protocol_error);
  };
  if (s.mode == connection_impl::body_mode::length && s.remaining > limit) co_return too_long();
  std::vector<char> scratch(16 * 1024);
  std::size_t total = 0;
  for (;;) {
    auto r = co_await body_some(s, asio::buffer(scratch));
    if (!r) co_return r.error();
    if (*r == 0) break;
    total += *r;
    if (total > limit) co_return too_long();
  }
  co_return error_code{};
}

}  // namespace

// The public operations report the connection's reason with the code.
asio::awaitable<outcome<std::size_t>> http_connection::read_body_some(asio::mutable_buffer buf) {
  co_return impl_->report(co_await body_some(*impl_, buf));
}

asio::awaitable<outcome<std::size_t>> http_connection::read_body_fill(asio::mutable_buffer buf) {
  co_return impl_->report(co_await body_fill(*impl_, buf));
}

asio::awaitable<outcome<std::string>> http_connection::read_body_all(std::size_t limit) {
  co_return impl_->report(co_await body_all(*impl_, limit));
}

asio::awaitable<outcome<void>> http_connection::discard_body(std::size_t limit) {
  const error_code ec = co_await body_discard(*impl_, limit);
  if (ec) co_return impl_->report(ec);
  co_return outcome<void>{};
}

}  // namespace respaldo
