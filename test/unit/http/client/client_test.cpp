#include "respaldo/http/client/client.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/async_test.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using respaldo::errc;
using respaldo::http_client;
using respaldo::http_client_options;
using respaldo::http_client_request;
using respaldo::http_connection;
using respaldo::http_origin;
using respaldo::test::run_with_deadline;
using namespace std::chrono_literals;

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// g++ 12 miscompiles brace-initialized temporaries inside a co_await expression (they are
// destroyed twice): requests and origins passed to coroutines are named objects.
const http_client_request plain_get;

// Deterministic, non-periodic bytes so that a lost, doubled or reordered piece is noticed.
unsigned char pattern(std::uint64_t i) {
  std::uint64_t z = (i >> 3) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<unsigned char>(z >> ((i & 7) * 8));
}

std::string pattern_string(std::uint64_t offset, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t k = 0; k < n; ++k) s[k] = static_cast<char>(pattern(offset + k));
  return s;
}

// Index of the first byte of `data` (at body offset `offset`) that differs from the pattern.
std::size_t first_mismatch(const char* data, std::size_t n, std::uint64_t offset) {
  for (std::size_t k = 0; k < n; ++k)
    if (static_cast<unsigned char>(data[k]) != pattern(offset + k)) return k;
  return n;
}

// ---- a small loopback server --------------------------------------------------------------

using session_fn = std::function<asio::awaitable<void>(tcp::socket)>;

struct server_state {
  server_state(asio::io_context& io, session_fn s)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        session(std::move(s)) {}
  tcp::acceptor acceptor;
  session_fn session;
  int accepts = 0;
};

asio::awaitable<void> accept_loop(std::shared_ptr<server_state> st) {
  for (;;) {
    auto [ec, sock] = co_await st->acceptor.async_accept(nothrow);
    if (ec) co_return;
    ++st->accepts;
    asio::co_spawn(st->acceptor.get_executor(), st->session(std::move(sock)), asio::detached);
  }
}

struct test_server {
  test_server(asio::io_context& io, session_fn s)
      : state(std::make_shared<server_state>(io, std::move(s))) {
    asio::co_spawn(io, accept_loop(state), asio::detached);
  }
  std::string port() const { return std::to_string(state->acceptor.local_endpoint().port()); }
  http_origin origin() const { return {false, "127.0.0.1", port()}; }
  int accepts() const { return state->accepts; }
  std::shared_ptr<server_state> state;
};

template <class Stream>
asio::awaitable<std::optional<http::request<http::string_body>>> read_request(
    Stream& s, beast::flat_buffer& buf) {
  http::request_parser<http::string_body> p;
  p.body_limit(64 << 20);
  auto [ec, n] = co_await http::async_read(s, buf, p, nothrow);
  if (ec) co_return std::nullopt;
  co_return p.release();
}

asio::awaitable<bool> write_raw(tcp::socket& s, std::string_view data) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(data), nothrow);
  co_return !ec;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(nothrow);
}

std::string response(std::string_view body, std::string_view extra_fields = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_fields) + "\r\n" + std::string(body);
}

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}

// Answers every request on the connection with a description of what it received.
asio::awaitable<void> echo_session(tcp::socket sock) {
  beast::flat_buffer buf;
  for (;;) {
    auto req = co_await read_request(sock, buf);
    if (!req) co_return;
    std::uint64_t sum = 0;
    for (std::size_t k = 0; k < req->body().size(); ++k)
      sum += static_cast<unsigned char>(req->body()[k]) * (k % 251 + 1);
    auto field = [&](http::field f) {
      auto it = req->find(f);
      return it == req->end() ? std::string("none") : std::string(it->value());
    };
    std::string body =
        std::string(req->method_string()) + " " + std::string(req->target()) +
        " len=" + std::to_string(req->body().size()) + " sum=" + std::to_string(sum) +
        " host=" + field(http::field::host) + " ua=" + field(http::field::user_agent) +
        " cl=" + field(http::field::content_length) + " auth=" + field(http::field::authorization);
    if (!co_await write_raw(sock, response(body))) co_return;
  }
}

std::uint64_t weighted_sum(std::string_view s) {
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < s.size(); ++k)
    sum += static_cast<unsigned char>(s[k]) * (k % 251 + 1);
  return sum;
}

asio::awaitable<std::unique_ptr<http_connection>> connect_to(const test_server& srv,
                                                             http_client_options opts) {
  auto ex = co_await asio::this_coro::executor;
  auto c = co_await http_connection::connect(ex, srv.origin(), opts, nullptr);
  INFO((c ? std::string() : c.error().message));
  REQUIRE(c);
  co_return std::move(*c);
}

asio::awaitable<std::unique_ptr<http_connection>> connect_to(const test_server& srv) {
  return connect_to(srv, http_client_options());
}

http_client_options quick_options() {
  http_client_options o;
  o.connect_timeout = 2s;
  o.io_timeout = 300ms;
  return o;
}

}  // namespace

// ---- URLs --------------------------------------------------------------------------------

TEST_CASE("parse_http_url accepts http and https URLs", "[http_client]") {
  struct row {
    std::string url;
    bool tls;
    std::string host, port, target;
  };
  const std::vector<row> rows = {
      {"http://example.com", false, "example.com", "80", "/"},
      {"https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable&x=%20y", true,
       "www.googleapis.com", "443", "/upload/drive/v3/files?uploadType=resumable&x=%20y"},
      {"HTTP://Example.COM:8080/a/b", false, "example.com", "8080", "/a/b"},
      {"http://127.0.0.1:9000/backup/export#frag", false, "127.0.0.1", "9000", "/backup/export"},
      {"https://[::1]:8443/x", true, "::1", "8443", "/x"},
      {"http://host:/p", false, "host", "80", "/p"},
      {"http://host:0080?q=1", false, "host", "80", "/?q=1"},
      {"https://app.internal:443/", true, "app.internal", "443", "/"},
  };
  for (const auto& r : rows) {
    INFO(r.url);
    auto u = respaldo::parse_http_url(r.url);
    REQUIRE(u);
    CHECK(u->origin.tls == r.tls);
    CHECK(u->origin.host == r.host);
    CHECK(u->origin.port == r.port);
    CHECK(u->target == r.target);
  }
  CHECK(respaldo::to_string(*respaldo::parse_http_url("https://[::1]:8443/x?y")) ==
        "https://[::1]:8443/x?y");
  CHECK(respaldo::to_string(*respaldo::parse_http_url("http://h:80/")) == "http://h/");
  CHECK(respaldo::to_string(respaldo::parse_http_url("https://h:444")->origin) == "https://h:444");
}

TEST_CASE("parse_http_url rejects what it cannot use, saying why", "[http_client]") {
  struct row {
    std::string url, message_part;
  };
  const std::vector<row> rows = {
      {"", "not an absolute URL"},
      {"/relative/path", "not an absolute URL"},
      {"example.com/path", "not an absolute URL"},
      {"ftp://example.com/file", "unsupported scheme 'ftp'"},
      {"mailto:someone@example.com", "unsupported scheme"},
      {"http:///path", "no host"},
      {"http:/path", "no host"},
      {"https://user:secret@example.com/", "credentials"},
      {"http://example.com:99999/", "invalid port"},
      {"http://example.com:0/", "invalid port"},
      {"http://exa%20mple.com/", "invalid host name"},
      {"http://example.com/a b", "not an absolute URL"},
      {"http://[v1.x]/", "unsupported host address"},
  };
  for (const auto& r : rows) {
    INFO(r.url);
    auto u = respaldo::parse_http_url(r.url);
    REQUIRE_FALSE(u);
    CHECK_THAT(u.error().message, Catch::Contains(r.message_part));
    CHECK_THAT(u.error().message, !Catch::Contains("secret"));
  }
}

TEST_CASE("resolve_url resolves references against a base", "[http_client]") {
  auto base = respaldo::parse_http_url("https://app.example:8443/backup/export?x=1");
  REQUIRE(base);
  struct row {
    std::string ref, expected;
  };
  const std::vector<row> rows = {
      {"/exports/1", "https://app.example:8443/exports/1"},
      {"exports/2?token=a%2Fb", "https://app.example:8443/backup/exports/2?token=a%2Fb"},
      {"../up", "https://app.example:8443/up"},
      {"?y=2", "https://app.example:8443/backup/export?y=2"},
      {"//other.example/z", "https://other.example/z"},
      {"http://plain.example:81/d", "http://plain.example:81/d"},
      {"https://files.example/dl#part", "https://files.example/dl"},
  };
  for (const auto& r : rows) {
    INFO(r.ref);
    auto u = respaldo::resolve_url(*base, r.ref);
    REQUIRE(u);
    CHECK(respaldo::to_string(*u) == r.expected);
  }
  auto bad = respaldo::resolve_url(*base, "ftp://x/y");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("unsupported scheme"));
  auto spaces = respaldo::resolve_url(*base, "/a b");
  REQUIRE_FALSE(spaces);
  CHECK_THAT(spaces.error().message, Catch::Contains("invalid URL reference"));
}

// ---- bodies ------------------------------------------------------------------------------

TEST_CASE("a Content-Length body is read into the caller's buffer", "[http_client]") {
  asio::io_context io;
  constexpr std::uint64_t size = 24 * 1024 * 1024 + 123;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    for (;;) {
      if (!co_await read_request(sock, buf)) co_return;
      std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) +
                         "\r\nX-Checksum-SHA256: abc\r\n\r\n";
      if (!co_await write_raw(sock, head)) co_return;
      constexpr std::size_t piece = 256 * 1024;
      for (std::uint64_t off = 0; off < size; off += piece) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece, size - off));
        if (!co_await write_raw(sock, pattern_string(off, n))) co_return;
      }
    }
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    auto head = co_await conn->request(plain_get);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->reason == "OK");
    REQUIRE(head->content_length);
    CHECK(*head->content_length == size);
    CHECK_FALSE(head->chunked);
    CHECK(head->header("x-checksum-sha256") == std::optional<std::string_view>("abc"));
    CHECK_FALSE(head->header("X-Size"));
    CHECK_FALSE(conn->reusable());  // body pending

    std::vector<char> buffer(1024 * 1024);
    std::uint64_t total = 0;
    for (;;) {
      auto n = co_await conn->read_body_some(asio::buffer(buffer));
      REQUIRE(n);
      if (*n == 0) break;
      REQUIRE(*n <= buffer.size());
      REQUIRE(first_mismatch(buffer.data(), *n, total) == *n);
      total += *n;
    }
    CHECK(total == size);
    auto again = co_await conn->read_body_some(asio::buffer(buffer));
    REQUIRE(again);
    CHECK(*again == 0);
    CHECK(conn->reusable());

    // The same connection serves the next response, filled chunk by chunk.
    auto head2 = co_await conn->request(plain_get);
    REQUIRE(head2);
    std::vector<char> chunk_buffer(8 * 1024 * 1024);
    total = 0;
    for (;;) {
      auto n = co_await conn->read_body_fill(asio::buffer(chunk_buffer));
      REQUIRE(n);
      if (*n == 0) break;
      REQUIRE(first_mismatch(chunk_buffer.data(), *n, total) == *n);
      total += *n;
      if (total < size) REQUIRE(*n == chunk_buffer.size());
    }
    CHECK(total == size);
    CHECK(conn->reusable());
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 1);
}

TEST_CASE("interim responses are bounded", "[http_client]") {
  asio::io_context io;
  // Eight interim responses are skipped; the ninth makes the peer a protocol violator, even
  // when it would go on sending them forever.
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    std::string eight;
    for (int i = 0; i < 8; ++i) eight += "HTTP/1.1 100 Continue\r\n\r\n";
    co_await write_raw(sock, eight + response("after eight"));
    if (!co_await read_request(sock, buf)) co_return;
    while (co_await write_raw(sock, "HTTP/1.1 102 Processing\r\n\r\n")) {
    }
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    auto h1 = co_await conn->request(plain_get);
    REQUIRE(h1);
    CHECK(h1->status == 200);
    auto b1 = co_await conn->read_body_all(100);
    REQUIRE(b1);
    CHECK(*b1 == "after eight");
    auto h2 = co_await conn->request(plain_get);
    REQUIRE_FALSE(h2);
    CHECK(h2.error().code == errc::http_protocol_error);
    CHECK_THAT(h2.error().message, Catch::Contains("more than 8 interim (1xx) responses"));
    CHECK_FALSE(conn->reusable());
  };
  run_with_deadline(io, client());
}

TEST_CASE("read_body_fill fills the buffer across small reads and stops at the end",
          "[http_client]") {
  asio::io_context io;
  const bool chunked = GENERATE(false, true);
  auto session = [chunked](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    const std::string body = pattern_string(0, 1000);
    co_await write_raw(sock, chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     : "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (std::size_t off = 0; off < body.size(); off += 100) {
      co_await sleep_for(2ms);
      auto piece = std::string_view(body).substr(off, 100);
      const std::string framed = chunked ? chunk(piece) : std::string(piece);
      co_await write_raw(sock, framed);
    }
    if (chunked) co_await write_raw(sock, "0\r\n\r\n");
    co_await sleep_for(5s);  // keep the connection open: the end is known from the framing
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    auto head = co_await conn->request(plain_get);
    REQUIRE(head);
    CHECK(head->chunked == chunked);
    CHECK(head->content_length.has_value() == !chunked);
    std::vector<char> buffer(300);
    std::vector<std::size_t> sizes;
    std::uint64_t total = 0;
    for (int i = 0; i < 10; ++i) {
      auto n = co_await conn->read_body_fill(asio::buffer(buffer));
      REQUIRE(n);
      sizes.push_back(*n);
      REQUIRE(first_mismatch(buffer.data(), *n, total) == *n);
      total += *n;
      if (*n == 0) break;
    }
    CHECK(sizes == std::vector<std::size_t>{300, 300, 300, 100, 0});
    CHECK(conn->reusable());
  };
  run_with_deadline(io, client());
}

TEST_CASE("a chunked body is decoded into the caller's buffer", "[http_client]") {
  asio::io_context io;
  constexpr std::size_t size = 3 * 1024 * 1024 + 777;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(sock,
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Format: tar.gz\r\n\r\n");
    const std::string body = pattern_string(0, size);
    for (std::size_t off = 0; off < size; off += 100'000)
      if (!co_await write_raw(sock, chunk(std::string_view(body).substr(off, 100'000)))) co_return;
    co_await write_raw(sock, "0\r\nX-Trailer: t\r\n\r\n");
    // keep-alive after a chunked body
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(sock, response("second"));
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    auto head = co_await conn->request(plain_get);
    REQUIRE(head);
    CHECK(head->chunked);
    CHECK_FALSE(head->content_length);
    CHECK(head->header("X-FORMAT") == std::optional<std::string_view>("tar.gz"));
    std::vector<char> buffer(1024 * 1024);
    std::vector<std::size_t> sizes;
    std::uint64_t total = 0;
    for (;;) {
      auto n = co_await conn->read_body_fill(asio::buffer(buffer));
      REQUIRE(n);
      sizes.push_back(*n);
      if (*n == 0) break;
      REQUIRE(first_mismatch(buffer.data(), *n, total) == *n);
      total += *n;
    }
    CHECK(total == size);
    CHECK(sizes == std::vector<std::size_t>{1 << 20, 1 << 20, 1 << 20, 777, 0});
    CHECK(conn->reusable());
    auto head2 = co_await conn->request(plain_get);
    REQUIRE(head2);
    auto body2 = co_await conn->read_body_all(100);
    REQUIRE(body2);
    CHECK(*body2 == "second");
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 1);
}

TEST_CASE("a body delimited by the connection's close is read to its end", "[http_client]") {
  asio::io_context io;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(
        sock, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + pattern_string(0, 200'000));
    error_code ignored;
    sock.shutdown(tcp::socket::shutdown_send, ignored);
    co_await sleep_for(5s);
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    auto head = co_await conn->request(plain_get);
    REQUIRE(head);
    CHECK_FALSE(head->content_length);
    CHECK_FALSE(head->chunked);
    auto body = co_await conn->read_body_all(1 << 20);
    REQUIRE(body);
    CHECK(body->size() == 200'000);
    CHECK(first_mismatch(body->data(), body->size(), 0) == body->size());
    CHECK_FALSE(conn->reusable());
  };
  run_with_deadline(io, client());
}

TEST_CASE("responses without a body: HEAD, 204, interim 100", "[http_client]") {
  asio::io_context io;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(sock, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(sock, "HTTP/1.1 204 No Content\r\n\r\n");
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(sock, "HTTP/1.1 100 Continue\r\n\r\n" + response("after interim"));
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    http_client_request head_req;
    head_req.method = "HEAD";
    auto h1 = co_await conn->request(head_req);
    REQUIRE(h1);
    CHECK(h1->content_length == std::optional<std::uint64_t>(5000));
    CHECK(conn->reusable());
    auto h2 = co_await conn->request(plain_get);
    REQUIRE(h2);
    CHECK(h2->status == 204);
    CHECK(conn->reusable());
    auto h3 = co_await conn->request(plain_get);
    REQUIRE(h3);
    CHECK(h3->status == 200);
    auto b3 = co_await conn->read_body_all(100);
    REQUIRE(b3);
    CHECK(*b3 == "after interim");
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 1);
}

// ---- requests and reuse ------------------------------------------------------------------

TEST_CASE("requests carry the body as is and the automatic fields", "[http_client]") {
  asio::io_context io;
  test_server srv(io, echo_session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    const std::string big = pattern_string(7, 3 * 1024 * 1024 + 5);
    http_client_request put;
    put.method = "PUT";
    put.target = "/upload?id=1";
    put.headers = {{"Authorization", "Bearer tok"}, {"Content-Range", "bytes 0-9/10"}};
    put.body = big;
    auto h = co_await conn->request(put);
    REQUIRE(h);
    auto b = co_await conn->read_body_all(4096);
    REQUIRE(b);
    CHECK(*b == "PUT /upload?id=1 len=" + std::to_string(big.size()) +
                    " sum=" + std::to_string(weighted_sum(big)) + " host=127.0.0.1:" + srv.port() +
                    " ua=respaldo/" RESPALDO_VERSION " cl=" + std::to_string(big.size()) +
                    " auth=Bearer tok");

    http_client_request status_query;  // Drive's status query: PUT with an explicit empty body
    status_query.method = "PUT";
    auto h2 = co_await conn->request(status_query);
    REQUIRE(h2);
    auto b2 = co_await conn->read_body_all(4096);
    REQUIRE(b2);
    CHECK_THAT(*b2, Catch::StartsWith("PUT / len=0 sum=0 "));
    CHECK_THAT(*b2, Catch::Contains(" cl=0 "));

    http_client_request get;
    get.headers = {{"Host", "custom.example"}, {"User-Agent", "probe"}};
    auto h3 = co_await conn->request(get);
    REQUIRE(h3);
    auto b3 = co_await conn->read_body_all(4096);
    REQUIRE(b3);
    CHECK_THAT(*b3, Catch::Contains("host=custom.example ua=probe cl=none"));
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 1);
}

TEST_CASE("invalid requests are refused before anything is sent", "[http_client]") {
  asio::io_context io;
  test_server srv(io, echo_session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv);
    http_client_request injected;
    injected.headers = {{"X-Evil", "a\r\nX-Injected: 1"}};
    auto r1 = co_await conn->request(injected);
    REQUIRE_FALSE(r1);
    CHECK(r1.error().code == errc::invalid_argument);
    http_client_request bad_name;
    bad_name.headers = {{"Bad Name", "x"}};
    {
      auto r = co_await conn->request(bad_name);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == errc::invalid_argument);
    }
    http_client_request own_length;
    own_length.headers = {{"content-length", "3"}};
    {
      auto r = co_await conn->request(own_length);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == errc::invalid_argument);
    }
    http_client_request bad_target;
    bad_target.target = "/a b";
    {
      auto r = co_await conn->request(bad_target);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == errc::invalid_argument);
    }
    // The connection is still fine.
    auto ok = co_await conn->request(plain_get);
    REQUIRE(ok);
    // ... but a new request while a body is pending is refused.
    auto pending = co_await conn->request(plain_get);
    REQUIRE_FALSE(pending);
    CHECK(pending.error().code == errc::invalid_argument);
    CHECK_THAT(pending.error().message, Catch::Contains("not consumed"));
    {
      auto r = co_await conn->discard_body(4096);
      REQUIRE(r);
    }
    CHECK(conn->reusable());
  };
  run_with_deadline(io, client());
}

TEST_CASE("http_client reuses one idle connection per origin", "[http_client]") {
  asio::io_context io;
  test_server srv(io, echo_session);
  auto client = [&]() -> asio::awaitable<void> {
    http_client hc(co_await asio::this_coro::executor, quick_options(), nullptr);
    auto url = respaldo::parse_http_url("http://127.0.0.1:" + srv.port() + "/first");
    REQUIRE(url);
    for (int i = 0; i < 3; ++i) {
      auto r = co_await hc.fetch(*url, plain_get);
      REQUIRE(r);
      CHECK(r->head.status == 200);
      CHECK_THAT(r->body, Catch::StartsWith("GET /first "));
    }
    // A connection whose body was not consumed is not pooled.
    auto c = co_await hc.acquire(url->origin);
    REQUIRE(c);
    auto conn = std::move(*c);
    {
      auto r = co_await conn->request(plain_get);
      REQUIRE(r);
    }
    CHECK_FALSE(conn->reusable());
    hc.release(std::move(conn));
    auto r = co_await hc.fetch(*url, plain_get);
    REQUIRE(r);
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 2);
}

TEST_CASE("idle pooled connections expire", "[http_client]") {
  asio::io_context io;
  test_server srv(io, echo_session);
  auto client = [&]() -> asio::awaitable<void> {
    auto opts = quick_options();
    opts.pool_idle_timeout = 50ms;
    http_client hc(co_await asio::this_coro::executor, opts, nullptr);
    auto url = respaldo::parse_http_url("http://127.0.0.1:" + srv.port() + "/");
    REQUIRE(url);
    auto r1 = co_await hc.fetch(*url, plain_get);
    REQUIRE(r1);
    auto r2 = co_await hc.fetch(*url, plain_get);  // within the idle timeout: reused
    REQUIRE(r2);
    co_await sleep_for(120ms);
    auto r3 = co_await hc.fetch(*url, plain_get);
    REQUIRE(r3);
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 2);
}

TEST_CASE("a response with Connection: close is not reused", "[http_client]") {
  asio::io_context io;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(sock, response("bye", "Connection: close\r\n"));
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    http_client hc(co_await asio::this_coro::executor, quick_options(), nullptr);
    auto url = respaldo::parse_http_url("http://127.0.0.1:" + srv.port() + "/");
    for (int i = 0; i < 2; ++i) {
      auto r = co_await hc.fetch(*url, plain_get);
      REQUIRE(r);
      CHECK(r->body == "bye");
    }
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 2);
}

TEST_CASE("a pooled connection closed by the server is replaced", "[http_client]") {
  asio::io_context io;
  // First connection: answers one request, then drops the next one without a response.
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    int served = 0;
    for (;;) {
      auto req = co_await read_request(sock, buf);
      if (!req) co_return;
      if (req->target() == "/drop-next" && served++ == 1) co_return;  // closes the socket
      if (req->target() == "/close-idle") {
        co_await write_raw(sock, response("ok"));
        co_return;
      }
      co_await write_raw(sock, response("ok"));
    }
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    http_client hc(co_await asio::this_coro::executor, quick_options(), nullptr);
    SECTION("closed while idle: noticed before use") {
      auto url = respaldo::parse_http_url("http://127.0.0.1:" + srv.port() + "/close-idle");
      {
        auto r = co_await hc.fetch(*url, plain_get);
        REQUIRE(r);
      }
      co_await sleep_for(50ms);
      auto r = co_await hc.fetch(*url, plain_get);
      REQUIRE(r);
      CHECK(r->body == "ok");
    }
    SECTION("closed on the next request: retried once on a new connection") {
      auto url = respaldo::parse_http_url("http://127.0.0.1:" + srv.port() + "/drop-next");
      {
        auto r = co_await hc.fetch(*url, plain_get);
        REQUIRE(r);
      }
      auto r = co_await hc.fetch(*url, plain_get);
      REQUIRE(r);
      CHECK(r->body == "ok");
    }
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 2);
}

// ---- failures ----------------------------------------------------------------------------

TEST_CASE("connection refused is an error", "[http_client]") {
  asio::io_context io;
  std::string port;
  {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = std::to_string(probe.local_endpoint().port());
  }
  auto client = [&]() -> asio::awaitable<void> {
    const http_origin origin{false, "127.0.0.1", port};
    auto c = co_await http_connection::connect(co_await asio::this_coro::executor, origin,
                                               quick_options(), nullptr);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == asio::error::connection_refused);
    CHECK(respaldo::is_transient(c.error().code));
    CHECK_THAT(c.error().message, Catch::Contains("127.0.0.1:" + port));

    http_client hc(co_await asio::this_coro::executor, quick_options(), nullptr);
    const auto url = respaldo::parse_http_url("http://127.0.0.1:" + port + "/");
    REQUIRE(url);
    auto f = co_await hc.fetch(*url, plain_get, 1024);
    REQUIRE_FALSE(f);
    CHECK(f.error().code == asio::error::connection_refused);
    CHECK_FALSE(f.error().message.empty());
  };
  run_with_deadline(io, client());
}

TEST_CASE("a stalled server ends in errc::timeout within the bound", "[http_client]") {
  asio::io_context io;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    auto req = co_await read_request(sock, buf);
    if (req && req->target() == "/mid-body")
      co_await write_raw(
          sock, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern_string(0, 1000));
    co_await sleep_for(8s);
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv, quick_options());
    const auto start = std::chrono::steady_clock::now();
    SECTION("before the header") {
      auto h = co_await conn->request(plain_get);
      REQUIRE_FALSE(h);
      CHECK(h.error().code == errc::timeout);
      CHECK_THAT(h.error().message, Catch::Contains("300 ms"));
    }
    SECTION("in the middle of the body") {
      http_client_request req;
      req.target = "/mid-body";
      auto h = co_await conn->request(req);
      REQUIRE(h);
      std::vector<char> buffer(64 * 1024);
      auto n = co_await conn->read_body_fill(asio::buffer(buffer));
      REQUIRE_FALSE(n);
      CHECK(n.error().code == errc::timeout);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 2s);
    CHECK_FALSE(conn->reusable());
  };
  run_with_deadline(io, client());
}

TEST_CASE("cancel() ends an in-flight operation with errc::cancelled", "[http_client]") {
  asio::io_context io;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    auto req = co_await read_request(sock, buf);
    if (req && req->target() == "/mid-body")
      co_await write_raw(
          sock, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern_string(0, 1000));
    co_await sleep_for(8s);
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    http_client_options opts;  // default 30 s I/O timeout: only cancel() can end this quickly
    auto conn = co_await connect_to(srv, opts);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(100ms);
    http_connection* raw = conn.get();
    auto on_timer = [raw](error_code ec) {
      if (!ec) raw->cancel();
    };
    timer.async_wait(on_timer);
    const auto start = std::chrono::steady_clock::now();
    SECTION("waiting for the header") {
      auto h = co_await conn->request(plain_get);
      REQUIRE_FALSE(h);
      CHECK(h.error().code == errc::cancelled);
    }
    SECTION("waiting for body bytes") {
      http_client_request req;
      req.target = "/mid-body";
      auto h = co_await conn->request(req);
      REQUIRE(h);
      std::vector<char> buffer(64 * 1024);
      auto n = co_await conn->read_body_fill(asio::buffer(buffer));
      REQUIRE_FALSE(n);
      CHECK(n.error().code == errc::cancelled);
    }
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    auto again = co_await conn->request(plain_get);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == errc::cancelled);
    CHECK_FALSE(conn->reusable());
  };
  run_with_deadline(io, client());
}

TEST_CASE("close() in the middle of a body makes later reads fail", "[http_client]") {
  asio::io_context io;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    co_await write_raw(
        sock, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern_string(0, 1000));
    co_await sleep_for(8s);
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv, quick_options());
    auto h = co_await conn->request(plain_get);
    REQUIRE(h);
    std::vector<char> buffer(500);
    auto n = co_await conn->read_body_some(asio::buffer(buffer));
    REQUIRE(n);
    CHECK(*n > 0);
    conn->close();
    CHECK_FALSE(conn->reusable());
    auto more = co_await conn->read_body_some(asio::buffer(buffer));
    REQUIRE_FALSE(more);
    auto next = co_await conn->request(plain_get);
    REQUIRE_FALSE(next);
  };
  run_with_deadline(io, client());
}

TEST_CASE("a body longer than the limit is an error", "[http_client]") {
  asio::io_context io;
  const bool chunked = GENERATE(false, true);
  auto session = [chunked](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    const std::string body(10'000, 'x');
    if (chunked)
      co_await write_raw(sock, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                   chunk(body) + "0\r\n\r\n");
    else
      co_await write_raw(sock, response(body));
    co_await sleep_for(5s);
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv, quick_options());
    {
      auto r = co_await conn->request(plain_get);
      REQUIRE(r);
    }
    SECTION("read_body_all") {
      auto b = co_await conn->read_body_all(1000);
      REQUIRE_FALSE(b);
      CHECK(b.error().code == errc::http_protocol_error);
      CHECK_THAT(b.error().message, Catch::Contains("exceeds 1000 bytes"));
    }
    SECTION("discard_body") {
      auto discarded = co_await conn->discard_body(9'999);
      REQUIRE_FALSE(discarded);
      CHECK(discarded.error().code == errc::http_protocol_error);
      CHECK_THAT(discarded.error().message, Catch::Contains("exceeds 9999 bytes"));
    }
    SECTION("exactly at the limit") {
      auto b = co_await conn->read_body_all(10'000);
      REQUIRE(b);
      CHECK(b->size() == 10'000);
      CHECK(conn->reusable());
    }
    if (!conn->reusable()) {
      auto next = co_await conn->request(plain_get);
      CHECK_FALSE(next);
    }
  };
  run_with_deadline(io, client());
}

TEST_CASE("a body cut short by the server is an error, never a success", "[http_client]") {
  asio::io_context io;
  const bool chunked = GENERATE(false, true);
  auto session = [chunked](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    if (!co_await read_request(sock, buf)) co_return;
    const std::string part = pattern_string(0, 5000);
    if (chunked)
      co_await write_raw(sock, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                   chunk(part) + "2000\r\nabc");
    else
      co_await write_raw(sock, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + part);
  };  // the socket closes here
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto conn = co_await connect_to(srv, quick_options());
    {
      auto r = co_await conn->request(plain_get);
      REQUIRE(r);
    }
    std::vector<char> buffer(1 << 20);
    auto n = co_await conn->read_body_fill(asio::buffer(buffer));
    REQUIRE_FALSE(n);
    CHECK(n.error().code == errc::http_protocol_error);
    CHECK_THAT(n.error().message, Catch::Contains("closed"));
    CHECK_FALSE(conn->reusable());
    auto more = co_await conn->read_body_some(asio::buffer(buffer));
    REQUIRE_FALSE(more);  // the failure sticks; it never turns into "end of body"
  };
  run_with_deadline(io, client());
}

TEST_CASE("malformed or oversized response headers are protocol errors", "[http_client]") {
  asio::io_context io;
  auto session = [](tcp::socket sock) -> asio::awaitable<void> {
    beast::flat_buffer buf;
    auto req = co_await read_request(sock, buf);
    if (!req) co_return;
    if (req->target() == "/huge")
      co_await write_raw(sock, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(4096, 'a') +
                                   "\r\nContent-Length: 0\r\n\r\n");
    else if (req->target() == "/garbage")
      co_await write_raw(sock, "HTTP/1.1 two hundred\r\n\r\n");
    else if (req->target() == "/bad-length")
      co_await write_raw(sock, "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n");
    else if (req->target() == "/closed")
      co_return;
    co_await sleep_for(5s);
  };
  test_server srv(io, session);
  auto client = [&]() -> asio::awaitable<void> {
    auto opts = quick_options();
    opts.header_limit = 1024;
    auto conn = co_await connect_to(srv, opts);
    http_client_request req;
    SECTION("header over the limit") {
      req.target = "/huge";
      auto h = co_await conn->request(req);
      REQUIRE_FALSE(h);
      CHECK(h.error().code == errc::http_protocol_error);
      CHECK_THAT(h.error().message, Catch::Contains("1024"));
    }
    SECTION("garbage status line") {
      req.target = "/garbage";
      auto h = co_await conn->request(req);
      REQUIRE_FALSE(h);
      CHECK(h.error().code == errc::http_protocol_error);
    }
    SECTION("invalid Content-Length") {
      req.target = "/bad-length";
      auto h = co_await conn->request(req);
      REQUIRE_FALSE(h);
      CHECK(h.error().code == errc::http_protocol_error);
    }
    SECTION("closed without a response") {
      req.target = "/closed";
      auto h = co_await conn->request(req);
      REQUIRE_FALSE(h);
      CHECK(h.error().code == asio::error::eof);
      CHECK(respaldo::is_transient(h.error().code));
    }
    CHECK_FALSE(conn->reusable());
  };
  run_with_deadline(io, client());
}

// ---- TLS -----------------------------------------------------------------------------------

namespace {

struct tls_material {
  std::string ca_pem, cert_pem, key_pem;
  std::filesystem::path dir, ca_file;
  tls_material() = default;
  tls_material(tls_material&&) = default;
  ~tls_material() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  REQUIRE(ext);
  REQUIRE(X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

// A certificate for `key`, signed by `issuer_key` (self-signed when issuer is null).
X509* make_cert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
                long serial) {
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  if (!issuer) {
    add_extension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert, &ctx, NID_subject_key_identifier, "hash");
  } else {
    add_extension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, &ctx, NID_key_usage, "critical,digitalSignature");
    add_extension(cert, &ctx, NID_ext_key_usage, "serverAuth");
    add_extension(cert, &ctx, NID_subject_alt_name, "DNS:localhost");
    add_extension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  }
  REQUIRE(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return cert;
}

// A test CA and a server certificate for "localhost" (not for 127.0.0.1), made once.
const tls_material& test_tls_material() {
  static const tls_material material = [] {
    tls_material m;
    EVP_PKEY* ca_key = EVP_EC_gen("P-256");
    EVP_PKEY* server_key = EVP_EC_gen("P-256");
    REQUIRE(ca_key);
    REQUIRE(server_key);
    X509* ca = make_cert(ca_key, "respaldo test CA", nullptr, nullptr, 1);
    X509* server = make_cert(server_key, "localhost", ca, ca_key, 2);
    m.ca_pem = pem_of(ca);
    m.cert_pem = pem_of(server);
    m.key_pem = pem_of(server_key);
    X509_free(server);
    X509_free(ca);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(ca_key);
    m.dir = std::filesystem::temp_directory_path() /
            ("respaldo-http-client-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(m.dir);
    m.ca_file = m.dir / "ca.pem";
    std::ofstream(m.ca_file) << m.ca_pem;
    return m;
  }();
  return material;
}

asio::awaitable<void> tls_session(tcp::socket sock, std::shared_ptr<ssl::context> ctx) {
  ssl::stream<tcp::socket> s(std::move(sock), *ctx);
  auto [hec] = co_await s.async_handshake(ssl::stream_base::server, nothrow);
  if (hec) co_return;
  beast::flat_buffer buf;
  for (;;) {
    auto req = co_await read_request(s, buf);
    if (!req) co_return;
    http::response<http::string_body> res{http::status::ok, 11};
    res.body() = req->target() == "/big" ? pattern_string(0, 4 * 1024 * 1024 + 1)
                                         : "hello over tls " + std::string(req->target());
    res.prepare_payload();
    auto [wec, n] = co_await http::async_write(s, res, nothrow);
    if (wec) co_return;
  }
}

test_server tls_server(asio::io_context& io) {
  const auto& m = test_tls_material();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->use_certificate_chain(asio::buffer(m.cert_pem + m.ca_pem));
  ctx->use_private_key(asio::buffer(m.key_pem), ssl::context::pem);
  auto session = [ctx](tcp::socket sock) { return tls_session(std::move(sock), ctx); };
  return test_server(io, session);
}

}  // namespace

TEST_CASE("https with the CA file: verified, reused, bodies intact", "[http_client]") {
  asio::io_context io;
  test_server srv = tls_server(io);
  auto client = [&]() -> asio::awaitable<void> {
    auto opts = quick_options();
    opts.ca_file = test_tls_material().ca_file.string();
    http_client hc(co_await asio::this_coro::executor, opts, nullptr);
    auto url = respaldo::parse_http_url("https://localhost:" + srv.port() + "/hello");
    REQUIRE(url);
    auto r = co_await hc.fetch(*url, plain_get, 1 << 20);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r);
    CHECK(r->head.status == 200);
    CHECK(r->body == "hello over tls /hello");

    auto c = co_await hc.acquire(url->origin);
    REQUIRE(c);
    auto conn = std::move(*c);
    CHECK(conn->reused());
    http_client_request big;
    big.target = "/big";
    auto h = co_await conn->request(big);
    REQUIRE(h);
    REQUIRE(h->content_length == std::optional<std::uint64_t>(4 * 1024 * 1024 + 1));
    std::vector<char> buffer(1 << 20);
    std::uint64_t total = 0;
    for (;;) {
      auto n = co_await conn->read_body_fill(asio::buffer(buffer));
      REQUIRE(n);
      if (*n == 0) break;
      REQUIRE(first_mismatch(buffer.data(), *n, total) == *n);
      total += *n;
    }
    CHECK(total == 4 * 1024 * 1024 + 1);
    hc.release(std::move(conn));
    {
      auto r = co_await hc.fetch(*url, plain_get);
      REQUIRE(r);
    }
  };
  run_with_deadline(io, client());
  CHECK(srv.accepts() == 1);
}

TEST_CASE("https fails with errc::tls_error when the certificate cannot be verified",
          "[http_client]") {
  asio::io_context io;
  test_server srv = tls_server(io);
  auto client = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    SECTION("CA not trusted") {
      auto tls = respaldo::make_tls_context("");
      REQUIRE(tls);
      const http_origin origin{true, "localhost", srv.port()};
      auto c = co_await http_connection::connect(ex, origin, quick_options(), *tls);
      REQUIRE_FALSE(c);
      CHECK(c.error().code == errc::tls_error);
      CHECK_FALSE(respaldo::is_transient(c.error().code));
      CHECK_THAT(c.error().message, Catch::Contains("certificate verification failed"));
      CHECK_THAT(c.error().message, Catch::Contains("localhost:" + srv.port()));
    }
    SECTION("wrong host name") {
      auto tls = respaldo::make_tls_context(test_tls_material().ca_file.string());
      REQUIRE(tls);
      const http_origin origin{true, "127.0.0.1", srv.port()};
      auto c = co_await http_connection::connect(ex, origin, quick_options(), *tls);
      REQUIRE_FALSE(c);
      CHECK(c.error().code == errc::tls_error);
      CHECK_THAT(c.error().message, Catch::Contains("mismatch"));
    }
    SECTION("through http_client without ca_file") {
      http_client hc(ex, quick_options(), nullptr);
      const auto url = respaldo::parse_http_url("https://localhost:" + srv.port());
      REQUIRE(url);
      auto r = co_await hc.fetch(*url, plain_get, 1024);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == errc::tls_error);
      CHECK_THAT(r.error().message, Catch::Contains("certificate verification failed"));
    }
    SECTION("plain http to a TLS port is not TLS") {
      const http_origin origin{false, "localhost", srv.port()};
      auto c = co_await http_connection::connect(ex, origin, quick_options(), nullptr);
      REQUIRE(c);
      auto h = co_await (*c)->request(plain_get);
      REQUIRE_FALSE(h);
    }
  };
  run_with_deadline(io, client());
}

TEST_CASE("make_tls_context reports an unusable CA file", "[http_client]") {
  auto missing = respaldo::make_tls_context("/nonexistent/ca.pem");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == errc::tls_error);
  CHECK_THAT(missing.error().message, Catch::Contains("/nonexistent/ca.pem"));
  const auto bad = std::filesystem::temp_directory_path() /
                   ("respaldo-bad-ca-" + std::to_string(::getpid()) + ".pem");
  std::ofstream(bad) << "not a certificate\n";
  auto garbage = respaldo::make_tls_context(bad.string());
  REQUIRE_FALSE(garbage);
  CHECK_FALSE(garbage.error().message.empty());
  std::filesystem::remove(bad);
  CHECK(respaldo::make_tls_context(""));
}
