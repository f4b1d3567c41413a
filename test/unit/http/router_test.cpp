#include "respaldo/http/router.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "support/async_test.hpp"

namespace {

using respaldo::http_request;
using respaldo::http_response;
using respaldo::route_match;
using respaldo::router;

// A handler that answers with `status`, so a test can tell which route matched.
respaldo::route_handler answer(unsigned status) {
  return [status](http_request&) -> boost::asio::awaitable<http_response> {
    co_return respaldo::empty_response(status);
  };
}

unsigned run(const route_match& m) {
  REQUIRE(m.handler != nullptr);
  boost::asio::io_context io;
  http_request req;
  auto res = respaldo::test::run_with_deadline(io, (*m.handler)(req));
  return res.status;
}

std::set<std::string> split_allow(const std::string& allow) {
  std::set<std::string> out;
  std::size_t start = 0;
  while (start <= allow.size()) {
    auto comma = allow.find(',', start);
    auto item = allow.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    out.insert(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

router sample() {
  router r;
  r.add("GET", "/healthz", answer(201));
  r.add("POST", "/api/apps", answer(202));
  r.add("GET", "/api/apps", answer(203));
  r.add("GET", "/api/apps/{id}", answer(204));
  r.add("PATCH", "/api/apps/{id}", answer(205));
  r.add("DELETE", "/api/apps/{id}", answer(206));
  r.add("POST", "/api/apps/{id}/backups", answer(207));
  r.add("GET", "/api/apps/{id}/backups", answer(208));
  r.add("GET", "/api/apps/{app}/backups/{backup}", answer(209));
  r.add("GET", "/api/apps/special", answer(210));
  return r;
}

}  // namespace

TEST_CASE("router matches literal paths and captures", "[router]") {
  const auto r = sample();

  SECTION("literal") {
    auto m = r.match("GET", "/healthz");
    CHECK(m.result == route_match::outcome::found);
    CHECK(m.params.empty());
    CHECK(m.allow.empty());
    CHECK(run(m) == 201);
  }
  SECTION("same path, method picks the handler") {
    CHECK(run(r.match("POST", "/api/apps")) == 202);
    CHECK(run(r.match("GET", "/api/apps")) == 203);
  }
  SECTION("one capture") {
    auto m = r.match("PATCH", "/api/apps/mi-app");
    REQUIRE(m.result == route_match::outcome::found);
    CHECK(m.params == std::map<std::string, std::string>{{"id", "mi-app"}});
    CHECK(m.pattern == "/api/apps/{id}");
    CHECK(run(m) == 205);
  }
  SECTION("capture in the middle") {
    auto m = r.match("POST", "/api/apps/x-1/backups");
    REQUIRE(m.result == route_match::outcome::found);
    CHECK(m.params.at("id") == "x-1");
    CHECK(run(m) == 207);
  }
  SECTION("two captures") {
    auto m = r.match("GET", "/api/apps/a/backups/b-2");
    REQUIRE(m.result == route_match::outcome::found);
    CHECK(m.params == std::map<std::string, std::string>{{"app", "a"}, {"backup", "b-2"}});
    CHECK(run(m) == 209);
  }
  SECTION("captures take any non-empty segment text") {
    auto m = r.match("GET", "/api/apps/{id}");
    REQUIRE(m.result == route_match::outcome::found);
    CHECK(m.params.at("id") == "{id}");
    m = r.match("GET", "/api/apps/%20");
    REQUIRE(m.result == route_match::outcome::found);
    CHECK(m.params.at("id") == "%20");
  }
  SECTION("a literal and a capture at the same place: the first added wins") {
    // /api/apps/{id} was added before /api/apps/special, so it takes the request.
    auto m = r.match("GET", "/api/apps/special");
    REQUIRE(m.result == route_match::outcome::found);
    CHECK(run(m) == 204);
    CHECK(m.params.at("id") == "special");
  }
  SECTION("method names are case-sensitive (RFC 9110)") {
    auto m = r.match("get", "/healthz");
    CHECK(m.result == route_match::outcome::method_not_allowed);
    CHECK(m.allow == "GET");
  }
}

TEST_CASE("router tells 404 from 405 and lists the allowed methods", "[router]") {
  const auto r = sample();

  SECTION("unknown paths are not found") {
    for (const char* path :
         {"/", "", "/nope", "/api", "/api/app", "/api/apps/x/y", "/api/apps/x/backups/y/z",
          "/healthz/x", "healthz", "/HEALTHZ", "/api//apps"}) {
      INFO(path);
      auto m = r.match("GET", path);
      CHECK(m.result == route_match::outcome::not_found);
      CHECK(m.handler == nullptr);
      CHECK(m.allow.empty());
      CHECK(m.pattern.empty());
    }
  }
  SECTION("a known path with another method is 405 with Allow") {
    auto m = r.match("PUT", "/api/apps/mi-app");
    CHECK(m.result == route_match::outcome::method_not_allowed);
    CHECK(m.handler == nullptr);
    CHECK(split_allow(m.allow) == std::set<std::string>{"GET", "PATCH", "DELETE"});
    CHECK(m.allow == "GET, PATCH, DELETE");  // in the order the routes were added
    CHECK(m.pattern == "/api/apps/{id}");

    m = r.match("DELETE", "/api/apps");
    CHECK(m.result == route_match::outcome::method_not_allowed);
    CHECK(split_allow(m.allow) == std::set<std::string>{"POST", "GET"});

    m = r.match("HEAD", "/healthz");
    CHECK(m.result == route_match::outcome::method_not_allowed);
    CHECK(m.allow == "GET");
  }
  SECTION("Allow names each method once even when several patterns match") {
    // /api/apps/special matches both /api/apps/{id} (GET, PATCH, DELETE) and the literal (GET).
    auto m = r.match("POST", "/api/apps/special");
    CHECK(m.result == route_match::outcome::method_not_allowed);
    CHECK(m.allow == "GET, PATCH, DELETE");
  }
}

TEST_CASE("router treats trailing and doubled slashes as other paths", "[router]") {
  const auto r = sample();
  CHECK(r.match("GET", "/healthz/").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "/api/apps/").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "/api/apps/mi-app/").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "//healthz").result == route_match::outcome::not_found);
  CHECK(r.match("GET", "/api//backups").result == route_match::outcome::not_found);

  // A route may itself be "/" (the root) and then only "/" matches it.
  router root;
  root.add("GET", "/", answer(200));
  CHECK(root.match("GET", "/").result == route_match::outcome::found);
  CHECK(root.match("GET", "//").result == route_match::outcome::not_found);
  CHECK(root.match("GET", "/x").result == route_match::outcome::not_found);
}

TEST_CASE("router refuses malformed and duplicate routes", "[router]") {
  router r;
  r.add("GET", "/api/apps/{id}", answer(200));

  CHECK_THROWS_AS(r.add("GET", "/api/apps/{id}", answer(201)), std::logic_error);
  CHECK_THROWS_WITH(r.add("GET", "/api/apps/{id}", answer(201)),
                    Catch::Contains("duplicate") && Catch::Contains("/api/apps/{id}"));
  CHECK_THROWS_AS(r.add("GET", "api/apps", answer(200)), std::logic_error);
  CHECK_THROWS_AS(r.add("GET", "", answer(200)), std::logic_error);
  CHECK_THROWS_AS(r.add("GET", "/api//apps", answer(200)), std::logic_error);
  CHECK_THROWS_AS(r.add("GET", "/api/apps/", answer(200)), std::logic_error);

  // The same pattern with another method, or another pattern, is fine.
  CHECK_NOTHROW(r.add("PATCH", "/api/apps/{id}", answer(202)));
  CHECK_NOTHROW(r.add("GET", "/api/apps/{id}/backups", answer(203)));

  // Nothing refused was added.
  auto routes = r.routes();
  REQUIRE(routes.size() == 3);
  CHECK(routes[0].method == "GET");
  CHECK(routes[0].pattern == "/api/apps/{id}");
  CHECK(routes[1].method == "PATCH");
  CHECK(routes[2].pattern == "/api/apps/{id}/backups");
}
