// The HTTP server over loopback, in process: limits, timeouts, failing handlers, HEAD, request
// ids and keep-alive, with a raw socket client so every byte on the wire is visible.
#include "respaldo/http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "respaldo/http/problem.hpp"
#include "support/async_test.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using respaldo::http_request;
using respaldo::http_response;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

asio::awaitable<http_response> test_handler(http_request& req) {
  if (req.path == "/throw") throw std::runtime_error("handler exploded");
  if (req.path == "/slow") {
    asio::steady_timer t(co_await asio::this_coro::executor, 30s);
    co_await t.async_wait(asio::use_awaitable);
  }
  if (req.path == "/echo") {
    http_response res;
    res.set_header("Content-Type", "text/plain");
    res.body = req.method + " " + req.target + " " + std::to_string(req.body.size());
    co_return res;
  }
  co_return respaldo::problem(404, "not_found", "no resource at " + req.path);
}

// Sends `pieces` (pausing `gap` between them) and returns all bytes until the server closes.
asio::awaitable<std::string> exchange(tcp::endpoint ep, std::vector<std::string> pieces,
                                      std::chrono::milliseconds gap = 0ms) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  auto [cec] = co_await s.async_connect(ep, as_tuple_awaitable);
  REQUIRE_FALSE(cec);
  for (const auto& p : pieces) {
    auto [wec, n] = co_await asio::async_write(s, asio::buffer(p), as_tuple_awaitable);
    if (wec) break;
    if (gap.count() > 0) {
      asio::steady_timer t(ex, gap);
      co_await t.async_wait(as_tuple_awaitable);
    }
  }
  std::string out;
  char buf[4096];
  for (;;) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), as_tuple_awaitable);
    out.append(buf, n);
    if (rec) break;
  }
  co_return out;
}

struct server_fixture {
  asio::io_context io;
  std::ostringstream log_text;
  respaldo::logger log{respaldo::log_format::text, &log_text};
  respaldo::http_server server;
  tcp::endpoint ep;

  explicit server_fixture(respaldo::http_server_options options = {})
      : server(io.get_executor(), test_handler, options, log) {
    auto bound = server.listen("127.0.0.1", 0);
    REQUIRE(bound.has_value());
    ep = *bound;
    server.start();
  }

  std::string run(std::vector<std::string> pieces, std::chrono::milliseconds gap = 0ms,
                  std::chrono::seconds limit = 10s) {
    return respaldo::test::run_with_deadline(io, exchange(ep, std::move(pieces), gap), limit);
  }
};

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n";
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("http server answers and keeps connections alive", "[http_server]") {
  server_fixture f;
  SECTION("one request") {
    auto out = f.run({get("/echo?x=1")});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
    CHECK_THAT(out, Catch::EndsWith("GET /echo?x=1 0"));
    CHECK_THAT(out, Catch::Contains("X-Request-Id: "));
  }
  SECTION("pipelined requests on one connection") {
    auto out =
        f.run({"GET /echo HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n"
               "Content-Length: 5\r\n\r\nhello" +
               get("/echo")});
    CHECK(count(out, "HTTP/1.1 200 OK") == 3);
    CHECK_THAT(out, Catch::Contains("POST /echo 5"));
  }
  SECTION("request ids are echoed when harmless") {
    auto out = f.run({get("/echo", "X-Request-Id: abc-123\r\n")});
    CHECK_THAT(out, Catch::Contains("X-Request-Id: abc-123\r\n"));
    out = f.run({get("/echo", "X-Request-Id: bad id\r\n")});
    CHECK_THAT(out, !Catch::Contains("bad id"));
    CHECK_THAT(f.log_text.str(), Catch::Contains("request_id=abc-123"));
  }
  SECTION("HEAD gets the header without the body") {
    auto out = f.run({"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n" + get("/echo")});
    const auto first_end = out.find("\r\n\r\n");
    REQUIRE(first_end != std::string::npos);
    CHECK_THAT(out.substr(0, first_end), Catch::Contains("Content-Length: 12"));
    // The next bytes are the second response, not a body.
    CHECK(out.compare(first_end + 4, 17, "HTTP/1.1 200 OK\r\n") == 0);
  }
}

TEST_CASE("http server turns handler failures into problems without waiting", "[http_server]") {
  respaldo::http_server_options options;
  options.handler_timeout = 20s;
  server_fixture f(options);
  const auto started = std::chrono::steady_clock::now();
  auto out = f.run({get("/throw")}, 0ms, 10s);
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 500 "));
  CHECK_THAT(out, Catch::Contains("internal_error") && Catch::Contains("application/problem+json"));
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK_THAT(f.log_text.str(), Catch::Contains("handler exploded"));
}

TEST_CASE("http server bounds handler time", "[http_server]") {
  respaldo::http_server_options options;
  options.handler_timeout = 200ms;
  server_fixture f(options);
  auto out = f.run({get("/slow")});
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 503 "));
  CHECK_THAT(out, Catch::Contains("handler_timeout"));
}

TEST_CASE("http server enforces the header limit over the whole header", "[http_server]") {
  server_fixture f;
  SECTION("one large field") {
    auto out = f.run({get("/echo", "X-Pad: " + std::string(17 * 1024, 'p') + "\r\n")});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 431 "));
  }
  SECTION("many small fields arriving in separate reads") {
    std::vector<std::string> pieces{"GET /echo HTTP/1.1\r\nHost: x\r\n"};
    for (int i = 0; i < 40; ++i)
      pieces.push_back("X-F" + std::to_string(i) + ": " + std::string(500, 'v') + "\r\n");
    pieces.push_back("\r\n");
    auto out = f.run(pieces, 2ms);
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 431 "));
    CHECK_THAT(out, Catch::Contains("header_fields_too_large"));
  }
  SECTION("just below the limit") {
    auto out = f.run({get("/echo", "X-Pad: " + std::string(15 * 1024, 'p') + "\r\n")});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 200 "));
  }
}

TEST_CASE("http server refuses large bodies and still delivers the refusal", "[http_server]") {
  respaldo::http_server_options options;
  options.body_limit = 1024;
  server_fixture f(options);
  SECTION("by Content-Length, while the client keeps sending") {
    const std::string body(256 * 1024, 'b');
    auto out =
        f.run({"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n",
               body});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 413 "));
    CHECK_THAT(out, Catch::Contains("body_too_large") && Catch::Contains("Connection: close"));
  }
  SECTION("chunked") {
    std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 8; ++i) req += "200\r\n" + std::string(512, 'c') + "\r\n";
    req += "0\r\n\r\n";
    auto out = f.run({req});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 413 "));
  }
  SECTION("at the limit") {
    auto out = f.run(
        {"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1024\r\n\r\n" +
         std::string(1024, 'b')});
    CHECK_THAT(out, Catch::EndsWith("POST /echo 1024"));
  }
}

TEST_CASE("http server answers 408 to requests that stall", "[http_server]") {
  respaldo::http_server_options options;
  options.read_timeout = 300ms;
  options.idle_timeout = 300ms;
  server_fixture f(options);
  SECTION("in the header") {
    auto out = f.run({"GET /echo HTTP/1.1\r\nHost: x\r\n"});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 408 "));
    CHECK_THAT(out, Catch::Contains("request_timeout"));
  }
  SECTION("in the body") {
    auto out = f.run({"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 408 "));
  }
  SECTION("a silent connection is closed without an answer") {
    CHECK(f.run({}).empty());
  }
  SECTION("an idle keep-alive connection is closed after its last answer") {
    auto out = f.run({"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"});
    CHECK(count(out, "HTTP/1.1") == 1);
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 200 "));
  }
}

TEST_CASE("http server rejects malformed requests with 400", "[http_server]") {
  server_fixture f;
  for (const char* raw :
       {"NOT HTTP AT ALL\r\n\r\n", "GET /echo HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET http://absolute/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"}) {
    INFO(raw);
    auto out = f.run({raw});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 400 "));
    CHECK_THAT(out, Catch::Contains("application/problem+json"));
  }
}

TEST_CASE("http server refuses a Transfer-Encoding other than chunked and closes",
          "[http_server]") {
  server_fixture f;
  // Each request is followed by a second one that must never be answered: before the check,
  // Beast read such a request as bodiless and the body (here: the next request) as a request.
  const std::string smuggled = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::string head : {
           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
           "Transfer-Encoding: chunked\r\n\r\n",
           "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
       }) {
    INFO(head);
    auto out = f.run({head + smuggled});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 400 "));
    CHECK_THAT(out, Catch::Contains("bad_request") && Catch::Contains("Transfer-Encoding") &&
                        Catch::Contains("Connection: close"));
    CHECK(count(out, "HTTP/1.1 ") == 1);
  }
  CHECK(count(f.log_text.str(), " status=400 ") == 6);
}

TEST_CASE("http server still reads chunked bodies, whatever the case of the coding",
          "[http_server]") {
  server_fixture f;
  for (const char* coding : {"chunked", "Chunked", " chunked "}) {
    INFO(coding);
    auto out = f.run({std::string("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n") +
                      "Transfer-Encoding:" + coding + "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"});
    CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 200 "));
    CHECK_THAT(out, Catch::EndsWith("POST /echo 5"));
  }
}

namespace {

// Polls `ready` every 10 ms for up to 20 s (a loaded machine accepts slowly).
template <class Pred>
asio::awaitable<bool> poll_until(Pred ready) {
  auto ex = co_await asio::this_coro::executor;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until) co_return false;
    asio::steady_timer t(ex, 10ms);
    co_await t.async_wait(as_tuple_awaitable);
  }
  co_return true;
}

// `n` connections from 127.0.0.2 that send nothing (any 127/8 source works on loopback).
asio::awaitable<std::vector<tcp::socket>> open_idle(tcp::endpoint ep, int n) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<tcp::socket> out;
  for (int i = 0; i < n; ++i) {
    tcp::socket s(ex);
    s.open(tcp::v4());
    s.bind(tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
    auto [ec] = co_await s.async_connect(ep, as_tuple_awaitable);
    REQUIRE_FALSE(ec);
    out.push_back(std::move(s));
  }
  co_return out;
}

}  // namespace

TEST_CASE("http server caps the connections of one client address", "[http_server]") {
  respaldo::http_server_options options;
  options.max_connections_per_client = 4;
  server_fixture f(options);
  auto scenario = [&]() -> asio::awaitable<std::string> {
    auto idle = co_await open_idle(f.ep, 10);
    const auto refusals = [&] {
      return count(f.log_text.str(), "connection refused: per-client limit reached");
    };
    auto settled = [&] { return f.server.active_connections() == 4 && refusals() > 0; };
    const bool seen = co_await poll_until(settled);
    CHECK(seen);
    // The other address is not affected, and the six refusals made a single line.
    std::vector<std::string> request{get("/echo")};
    auto out = co_await exchange(f.ep, std::move(request));
    CHECK(refusals() == 1);
    co_return out;
  };
  auto out = respaldo::test::run_with_deadline(f.io, scenario(), 60s);
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 200 "));
  const auto log = f.log_text.str();
  CHECK_THAT(log, Catch::Contains("remote=127.0.0.2 refused=1 limit=4"));
}

TEST_CASE("http server closes the longest-idle connection when its cap is near", "[http_server]") {
  respaldo::http_server_options options;
  options.max_connections = 8;  // eviction from 7 live connections on
  // Longer than the scenario's deadline: an idle connection that was not evicted never ends.
  options.read_timeout = 300s;
  server_fixture f(options);
  auto scenario = [&]() -> asio::awaitable<std::string> {
    auto idle = co_await open_idle(f.ep, 7);
    auto accepted = [&] { return f.server.active_connections() == 7; };
    const bool seen = co_await poll_until(accepted);
    CHECK(seen);
    std::vector<std::string> request{get("/echo")};
    auto out = co_await exchange(f.ep, std::move(request));
    // The oldest idle connection was closed to make room: its read ends at once.
    char byte = 0;
    const auto into = asio::buffer(&byte, 1);
    auto [ec, n] = co_await idle.front().async_read_some(into, as_tuple_awaitable);
    CHECK(ec == asio::error::eof);
    CHECK(n == 0);
    co_return out;
  };
  auto out = respaldo::test::run_with_deadline(f.io, scenario(), 60s);
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 200 "));
  CHECK_THAT(f.log_text.str(), !Catch::Contains("connection refused"));
}
