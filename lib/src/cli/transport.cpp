// The client's HTTP: requests run one at a time on a private io_context, a kept-alive connection
// is reused, and a backup's content is streamed to disk while it is hashed.
#include "respaldo/cli/transport.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
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

// Splits a text/event-stream into its events: the `event:` name and the `data:` text of each.
class sse_reader {
 public:
  // Feeds bytes; calls on_event(type, data) per complete event; false when it asked to stop.
  template <class F>
  bool feed(std::string_view bytes, F&& on_event) {
    pending_.append(bytes);
    for (std::size_t end; (end = pending_.find("\n\n")) != std::string::npos;) {
      std::string type = "message", data;
      std::string_view frame(pending_.data(), end);
      while (!frame.empty()) {
        const auto nl = frame.find('\n');
        const auto line = frame.substr(0, nl);
        frame = nl == std::string_view::npos ? std::string_view() : frame.substr(nl + 1);
        if (line.rfind("event: ", 0) == 0) type = std::string(line.substr(7));
        if (line.rfind("data: ", 0) == 0) data += line.substr(6);
      }
      pending_.erase(0, end + 2);
      if (!data.empty() && !on_event(type, data)) return false;
    }
    return pending_.size() < 1024 * 1024;  // one event never gets this large
  }

 private:
  std::string pending_;
};

// One read of the stream, given up at `deadline` (the connection is then dropped).
asio::awaitable<outcome<std::size_t>> read_until(
    http_connection& conn, asio::mutable_buffer buf,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (!deadline) co_return co_await conn.read_body_some(buf);
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, *deadline);
  auto read = conn.read_body_some(buf);
  auto wait = timer.async_wait(asio::as_tuple(asio::use_awaitable));
  auto race = std::move(read) || std::move(wait);
  auto won = co_await std::move(race);
  if (won.index() == 1) co_return failure{make_error_code(errc::timeout), "deadline"};
  co_return std::get<0>(std::move(won));
}

asio::awaitable<api_reply> follow_events(
    http_client& client, const http_origin& origin, http_client_request events,
    http_client_request job, std::function<bool(const std::string&)> on_job,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  api_reply out;
  auto sent = co_await http_send(client, origin, events);
  if (!sent) {
    out.failure = describe(sent.error());
    co_return out;
  }
  out.reached = true;
  out.status = sent->head.status;
  http_connection& conn = *sent->conn;
  if (out.status != 200) {
    if (auto body = co_await conn.read_body_all(json_limit)) out.body = std::move(*body);
    co_return out;
  }
  sse_reader reader;
  std::vector<char> buf(16 * 1024);
  bool go_on = true;
  while (go_on) {
    auto n = co_await read_until(conn, asio::buffer(buf), deadline);
    if (!n || *n == 0) break;
    bool snapshot = false;
    go_on = reader.feed(std::string_view(buf.data(), *n),
                        [&](const std::string& type, const std::string& data) {
                          if (type == "ready" || type == "reset") snapshot = true;
                          return type != "job" || on_job(data);
                        });
    if (go_on && snapshot) {
      // Subscribed: the job as it is now; every later change arrives as an event.
      auto now = co_await exchange(client, origin, job);
      if (now.reached && now.status == 200) go_on = on_job(now.body);
    }
  }
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

  api_reply follow_job(const std::string& job_id,
                       const std::function<bool(const std::string& json)>& on_job,
                       std::optional<std::chrono::steady_clock::time_point> deadline) override {
    http_client_request events = request("GET", "/api/events");
    events.headers.back().value = "text/event-stream";
    return run(io_, follow_events(client_, settings_.origin, events,
                                  request("GET", "/api/jobs/" + encode(job_id)), on_job, deadline));
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
