#include "http/request_parse.hpp"

#include <boost/beast/http/parser.hpp>
#include <catch2/catch.hpp>
#include <string>

namespace http = boost::beast::http;
using namespace respaldo;

namespace {

// The header of `wire`, as the server has it when it checks the framing.
parsed_request parse(std::string_view wire) {
  http::request_parser<http::string_body> parser;
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(parser.is_header_done());
  return parser.release();
}

}  // namespace

TEST_CASE("request_parse: a request id is echoed only when short and plain", "[http]") {
  CHECK(acceptable_request_id("abc-123_x.y:z"));
  CHECK_FALSE(acceptable_request_id(""));
  CHECK_FALSE(acceptable_request_id(std::string(129, 'a')));
  CHECK(acceptable_request_id(std::string(128, 'a')));
  CHECK_FALSE(acceptable_request_id("a b"));
  CHECK_FALSE(acceptable_request_id("a\r\nSet-Cookie: x"));

  auto mine = request_head(parse("GET / HTTP/1.1\r\nX-Request-Id: ok-1\r\n\r\n"), "fallback");
  CHECK(mine.request_id == "ok-1");
  auto theirs = request_head(parse("GET / HTTP/1.1\r\nX-Request-Id: not ok\r\n\r\n"), "fallback");
  CHECK(theirs.request_id == "fallback");
  CHECK(theirs.method == "GET");
}

TEST_CASE("request_parse: only a lone chunked Transfer-Encoding frames a body", "[http]") {
  CHECK_FALSE(check_transfer_encoding(
      parse("POST / HTTP/1.1\r\nTransfer-Encoding:  chunked \r\n\r\n0\r\n\r\n")));
  CHECK_FALSE(check_transfer_encoding(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")));

  auto gzip = check_transfer_encoding(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"));
  REQUIRE(gzip);
  CHECK(gzip->find("\"gzip\"") != std::string::npos);
  auto twice =
      check_transfer_encoding(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"));
  REQUIRE(twice);
  CHECK(twice->find("once") != std::string::npos);
  auto old = check_transfer_encoding(
      parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
  REQUIRE(old);
  CHECK(old->find("HTTP/1.0") != std::string::npos);
}

TEST_CASE("request_parse: the target splits into a decoded path and query", "[http]") {
  http_request req;
  req.target = "/api/apps/mi%2Dapp?limit=10&cursor=a%20b";
  REQUIRE(split_target(req));
  CHECK(req.path == "/api/apps/mi-app");
  REQUIRE(req.query.size() == 2);
  CHECK(req.query[1] == std::pair<std::string, std::string>{"cursor", "a b"});

  http_request absolute;
  absolute.target = "http://other/api";
  CHECK_FALSE(split_target(absolute));
  http_request bad;
  bad.target = "/a%zz";
  CHECK_FALSE(split_target(bad));
}

// Beast 1.81 asserts `n >= 5` when the last chunk's size line and the next byte arrive in separate
// reads; sanitizer builds keep assertions on, so this parse must pass through the handler.
TEST_CASE("request_parse: a last chunk split after its size line parses", "[http]") {
  http::request_parser<http::string_body> parser;
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
  std::string pending;
  for (std::string piece : {head, std::string("0\r\n"), std::string("\r"), std::string("\n")}) {
    pending += piece;
    boost::system::error_code ec;
    auto used = parser.put(boost::asio::buffer(pending), ec);
    if (ec == http::error::need_more) ec = {};
    REQUIRE_FALSE(ec);
    pending.erase(0, used);
  }
  REQUIRE(parser.is_done());
  CHECK(parser.get().body() == "hello");
}
