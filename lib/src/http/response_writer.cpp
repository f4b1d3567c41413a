#include "response_writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

namespace respaldo {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

class stream_sink final : public body_sink {
 public:
  stream_sink(beast::tcp_stream& s, bool chunked, std::chrono::milliseconds timeout)
      : stream_(s), chunked_(chunked), timeout_(timeout) {}

  asio::awaitable<boost::system::error_code> write(asio::const_buffer data) override {
    if (data.size() == 0) co_return boost::system::error_code{};
    stream_.expires_after(timeout_);
    if (chunked_) {
      auto [ec, n] =
          co_await asio::async_write(stream_, http::make_chunk(data), as_tuple_awaitable);
      written_ += data.size();
      co_return ec;
    }
    auto [ec, n] = co_await asio::async_write(stream_, data, as_tuple_awaitable);
    written_ += n;
    co_return ec;
  }
  std::uint64_t written() const { return written_; }

 private:
  beast::tcp_stream& stream_;
  bool chunked_;
  std::chrono::milliseconds timeout_;
  std::uint64_t written_ = 0;
};

template <class Body>
http::response<Body> head_of(const http_response& res, bool close_after) {
  http::response<Body> out{static_cast<http::status>(res.status), 11};
  for (const auto& h : res.headers) out.set(h.name, h.value);
  out.keep_alive(!close_after);
  return out;
}

asio::awaitable<written_response> write_streamed(beast::tcp_stream& stream, http_response& res,
                                                 bool close_after,
                                                 std::chrono::milliseconds write_timeout,
                                                 logger& log, const std::string& request_id) {
  written_response w;
  auto head = head_of<http::empty_body>(res, close_after);
  const bool chunked = !res.stream_length.has_value();
  if (chunked)
    head.chunked(true);
  else
    head.content_length(*res.stream_length);
  http::response_serializer<http::empty_body> sr{head};
  auto [ec, n] = co_await http::async_write_header(stream, sr, as_tuple_awaitable);
  if (ec) {
    w.ok = false;
    co_return w;
  }
  stream_sink sink(stream, chunked, write_timeout);
  auto sec = co_await res.stream(sink);
  w.body_bytes = sink.written();
  if (sec) {
    // The client sees a truncated body (no last chunk / short Content-Length): never a
    // response that looks complete.
    log.warn("streamed response aborted", {{"request_id", request_id}, {"error", sec.message()}});
    w.ok = false;
  } else if (chunked) {
    stream.expires_after(write_timeout);
    auto [cec, cn] =
        co_await asio::async_write(stream, http::make_chunk_last(), as_tuple_awaitable);
    w.ok = !cec;
  } else {
    w.ok = w.body_bytes == *res.stream_length;
  }
  co_return w;
}

}  // namespace

asio::awaitable<written_response> write_http_response(beast::tcp_stream& stream, http_response& res,
                                                      bool close_after, bool head_request,
                                                      std::chrono::milliseconds write_timeout,
                                                      logger& log, const std::string& request_id) {
  stream.expires_after(write_timeout);
  if (res.stream)
    co_return co_await write_streamed(stream, res, close_after, write_timeout, log, request_id);
  written_response w;
  if (head_request) {
    // A response to HEAD has the headers of the full response and no body (RFC 9110 9.3.2);
    // bytes after the header would be read as the next response on a kept-alive connection.
    auto out = head_of<http::empty_body>(res, close_after);
    out.content_length(res.body.size());
    http::response_serializer<http::empty_body> sr{out};
    auto [ec, n] = co_await http::async_write_header(stream, sr, as_tuple_awaitable);
    w.ok = !ec;
    co_return w;
  }
  auto out = head_of<http::string_body>(res, close_after);
  w.body_bytes = res.body.size();
  out.body() = std::move(res.body);
  out.prepare_payload();
  auto [ec, n] = co_await http::async_write(stream, out, as_tuple_awaitable);
  w.ok = !ec;
  co_return w;
}

}  // namespace respaldo
