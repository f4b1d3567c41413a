// The client's HTTP: requests run one at a time on a private io_context, a kept-alive connection
// is reused, and a backup's content is streamed to disk while it is hashed.
#include "respaldo/cli/transport.hpp"

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "respaldo/core/file_io.hpp"
#include "respaldo/core/text.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/client/exchange.hpp"

namespace respaldo::cli {

namespace {

namespace asio = boost::asio;

// Largest JSON answer taken from the server (a page of 500 jobs is well below it).
constexpr std::size_t json_limit = 16 * 1024 * 1024;

std::string describe(const failure& f) {
  return f.message.empty() ? f.code.message() : f.message;
}

// One request through the library's exchange (a stale kept-alive connection is retried once).
asio::awaitable<api_reply> exchange(http_client& client, const http_origin& origin,
                                    const http_client_request& req) {
  api_reply out;
  exchange_options opts;
  opts.body_limit = json_limit;
  auto r = co_await http_exchange(client, origin, req, opts);
  if (!r) {
    out.failure = describe(r.error());
    co_return out;
  }
  out.reached = true;
  out.status = r->head.status;
  out.reason = r->head.reason;
  out.body = std::move(r->body);
  co_return out;
}

// Checks X-Size and X-Checksum-SHA256 of a 200 and records them in `out`; false (with
// out.header_problem set) when one is missing or malformed.
bool read_announced(const http_client_response_head& head, download_result& out) {
  const auto size_text = head.header("X-Size");
  const auto sum_text = head.header("X-Checksum-SHA256");
  if (auto fmt = head.header("X-Format")) out.format = std::string(*fmt);
  if (!size_text || !sum_text) {
    out.header_problem = std::string("the answer lacks the ") +
                         (size_text ? "X-Checksum-SHA256" : "X-Size") + " header";
    return false;
  }
  const char* first = size_text->data();
  const char* last = first + size_text->size();
  auto [ptr, ec] = std::from_chars(first, last, out.expected_size);
  if (size_text->empty() || ec != std::errc{} || ptr != last) {
    out.header_problem = "X-Size is not a byte count: '" + std::string(*size_text) + "'";
    return false;
  }
  if (!is_sha256_hex(*sum_text)) {
    out.header_problem = "X-Checksum-SHA256 is not 64 hex digits: '" + std::string(*sum_text) + "'";
    return false;
  }
  out.expected_sha256 = lower(*sum_text);
  return true;
}

// Streams the body into `fd` chunk by chunk, hashing each chunk as it passes: the file is never
// held in memory.
asio::awaitable<download_result> download_to(http_client& client, const http_origin& origin,
                                             const http_client_request& req, int fd,
                                             const std::string& partial_path) {
  download_result out;
  auto sent = co_await http_send(client, origin, req);
  if (!sent) {
    out.reply.failure = describe(sent.error());
    co_return out;
  }
  const auto& head = sent->head;
  http_connection& conn = *sent->conn;
  out.reply.reached = true;
  out.reply.status = head.status;
  out.reply.reason = head.reason;
  if (head.status != 200) {
    auto body = co_await conn.read_body_all(json_limit);
    if (body) out.reply.body = std::move(*body);
    co_return out;
  }
  out.ok_status = true;
  if (!read_announced(head, out)) co_return out;

  std::vector<char> buf(256 * 1024);
  const asio::mutable_buffer space(buf.data(), buf.size());
  sha256 hash;
  while (true) {
    auto n = co_await conn.read_body_some(space);
    if (!n) {
      out.stream_error = describe(n.error());
      co_return out;
    }
    if (*n == 0) break;
    hash.update(buf.data(), *n);
    if (auto written = write_fully(fd, buf.data(), *n); !written) {
      out.write_error = "cannot write " + partial_path + ": " + written.error().message;
      co_return out;
    }
    out.received += *n;
  }
  out.complete = true;
  out.sha256 = hash.finish_hex();
  client.release(std::move(sent->conn));
  co_return out;
}

// Runs one coroutine to completion on `io` (the only place the io_context runs).
template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> value;
  std::exception_ptr failure;
  auto done = [&value, &failure](std::exception_ptr e, T v) {
    if (e)
      failure = e;
    else
      value = std::move(v);
  };
  asio::co_spawn(io, std::move(task), done);
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*value);
}

class http_transport final : public client_transport {
 public:
  explicit http_transport(const client_settings& s)
      : settings_(s), client_(io_.get_executor(), options(), s.tls) {}

  api_reply call(std::string method, const std::string& path, std::string body,
                 std::string content_type) override {
    http_client_request req = request(std::move(method), path);
    if (!content_type.empty()) req.headers.push_back({"Content-Type", std::move(content_type)});
    req.body = body;
    return run(io_, exchange(client_, settings_.origin, req));
  }

  download_result download(const std::string& path, int fd,
                           const std::string& partial_path) override {
    http_client_request req = request("GET", path);
    return run(io_, download_to(client_, settings_.origin, req, fd, partial_path));
  }

 private:
  static http_client_options options() {
    http_client_options o;
    o.connect_timeout = std::chrono::seconds(10);
    o.io_timeout = std::chrono::seconds(60);
    return o;
  }
  http_client_request request(std::string method, const std::string& path) const {
    http_client_request req;
    req.method = std::move(method);
    req.target = settings_.prefix + path;
    req.headers.push_back({"Authorization", "Bearer " + settings_.token});
    req.headers.push_back({"Accept", "application/json"});
    return req;
  }

  const client_settings& settings_;
  asio::io_context io_{1};
  http_client client_;
};

}  // namespace

std::unique_ptr<client_transport> make_http_transport(const client_settings& settings) {
  return std::make_unique<http_transport>(settings);
}

std::string encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace respaldo::cli
