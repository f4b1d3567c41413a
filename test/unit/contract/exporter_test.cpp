// The app contract's pure parts: the three download headers, the capabilities document and
// Retry-After.
#include "respaldo/contract/exporter.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "respaldo/store/store.hpp"
#include "support/async_test.hpp"  // prints boost::system::result in failed checks

namespace {

using respaldo::errc;
using respaldo::http_client_response_head;
using respaldo::http_header_field;

const std::string good_sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

http_client_response_head head_with(std::vector<http_header_field> fields) {
  http_client_response_head h;
  h.status = 200;
  h.headers = std::move(fields);
  return h;
}

http_client_response_head good_head() {
  return head_with({{"Content-Type", "application/octet-stream"},
                    {"X-Checksum-SHA256", good_sum},
                    {"X-Size", "1048576"},
                    {"X-Format", "pgdump"}});
}

void replace(http_client_response_head& h, const std::string& name, const std::string& value) {
  for (auto& f : h.headers)
    if (f.name == name) f.value = value;
}

void remove(http_client_response_head& h, const std::string& name) {
  std::erase_if(h.headers, [&](const http_header_field& f) { return f.name == name; });
}

}  // namespace

TEST_CASE("well-formed contract headers are read", "[exporter]") {
  auto s = respaldo::read_contract_headers(good_head());
  REQUIRE(s);
  CHECK(s->sha256 == good_sum);
  CHECK(s->size == 1048576);
  CHECK(s->format == "pgdump");
  CHECK(s->offset == 0);
  CHECK_FALSE(s->body);
}

TEST_CASE("contract header variations that are accepted", "[exporter]") {
  struct row {
    const char* name;
    const char* value;
  };
  for (const auto& r : std::vector<row>{
           {"X-Checksum-SHA256",
            "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"},
           {"X-Size", "0"},
           {"X-Size", "18446744073709551615"},
           {"X-Format", "tar.gz"},
           {"X-Format", "sql+gzip"},
           {"X-Format", "my_dump-v2"},
       }) {
    INFO(r.name << ": " << r.value);
    auto h = good_head();
    replace(h, r.name, r.value);
    auto s = respaldo::read_contract_headers(h);
    REQUIRE(s);
    if (std::string(r.name) == "X-Checksum-SHA256") CHECK(s->sha256 == good_sum);  // lower-cased
  }
  // Header names are case-insensitive.
  auto h = head_with({{"x-checksum-sha256", good_sum}, {"x-size", "5"}, {"x-format", "raw"}});
  auto s = respaldo::read_contract_headers(h);
  REQUIRE(s);
  CHECK(s->size == 5);
}

TEST_CASE("a missing contract header is an app_contract_violation naming it", "[exporter]") {
  for (const char* name : {"X-Checksum-SHA256", "X-Size", "X-Format"}) {
    INFO(name);
    auto h = good_head();
    remove(h, name);
    auto s = respaldo::read_contract_headers(h);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == errc::app_contract_violation);
    CHECK_THAT(s.error().message, Catch::Contains(name) && Catch::Contains("lacks"));
  }
}

TEST_CASE("a malformed contract header is an app_contract_violation naming it", "[exporter]") {
  struct row {
    const char* name;
    std::string value;
  };
  for (const auto& r : std::vector<row>{
           {"X-Checksum-SHA256", good_sum.substr(0, 32)},
           {"X-Checksum-SHA256", good_sum + "0"},
           {"X-Checksum-SHA256", "g" + good_sum.substr(1)},
           {"X-Checksum-SHA256", ""},
           {"X-Size", "abc"},
           {"X-Size", ""},
           {"X-Size", "-1"},
           {"X-Size", "+5"},
           {"X-Size", "12 "},
           {"X-Size", "1.5"},
           {"X-Size", "18446744073709551616"},  // 2^64
           {"X-Format", ""},
           {"X-Format", "../etc"},
           {"X-Format", ".hidden"},
           {"X-Format", "a/b"},
           {"X-Format", "tar gz"},
           {"X-Format", std::string(33, 'x')},
       }) {
    INFO(r.name << ": \"" << r.value << "\"");
    auto h = good_head();
    replace(h, r.name, r.value);
    auto s = respaldo::read_contract_headers(h);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == errc::app_contract_violation);
    CHECK_THAT(s.error().message, Catch::Contains(r.name));
  }
}

TEST_CASE("capabilities documents", "[exporter]") {
  SECTION("the guide's example") {
    auto c = respaldo::parse_capabilities(
        R"({"version":"v1","types":["db"],"est_seconds":123,"est_size":104857600})");
    REQUIRE(c);
    CHECK(c->version == "v1");
    CHECK(c->types == std::vector<std::string>{"db"});
    CHECK(c->est_seconds == 123u);
    CHECK(c->est_size == 104857600u);
    CHECK(c->raw.contains("types"));
  }
  SECTION("only the version is required; odd optional fields are ignored") {
    auto c = respaldo::parse_capabilities(
        R"({"version":"v1","types":"db","est_seconds":-5,"est_size":"big","extra":{}})");
    REQUIRE(c);
    CHECK(c->types.empty());
    CHECK_FALSE(c->est_seconds);
    CHECK_FALSE(c->est_size);
  }
  SECTION("non-string entries of types are skipped") {
    auto c = respaldo::parse_capabilities(R"({"version":"v1","types":["db",3,"files"]})");
    REQUIRE(c);
    CHECK(c->types == std::vector<std::string>{"db", "files"});
  }
}

TEST_CASE("capabilities that are refused", "[exporter]") {
  struct row {
    const char* body;
    const char* says;
  };
  for (const auto& r : std::vector<row>{
           {R"({"version":"v2"})", "v2"},
           {R"({"version":"V1"})", "V1"},
           {R"({"version":1})", "version"},
           {R"({"types":["db"]})", "version"},
           {R"(["v1"])", "JSON object"},
           {"<html><body>warming up</body></html>", "JSON object"},
           {"", "JSON object"},
           {R"({"version":"v1")", "JSON object"},
       }) {
    INFO(r.body);
    auto c = respaldo::parse_capabilities(r.body);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == errc::app_contract_violation);
    CHECK_THAT(c.error().message, Catch::Contains(r.says));
  }
}

TEST_CASE("Retry-After values", "[exporter]") {
  using std::chrono::milliseconds;
  // 1994-11-06T08:49:30Z
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(784111770));
  CHECK(respaldo::parse_retry_after("5", now) == milliseconds(5000));
  CHECK(respaldo::parse_retry_after("0", now) == milliseconds(0));
  CHECK(respaldo::parse_retry_after(" 2 ", now) == milliseconds(2000));
  CHECK(respaldo::parse_retry_after("99999999999", now) == milliseconds(86'400'000));
  CHECK(respaldo::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == milliseconds(7000));
  CHECK(respaldo::parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now) == milliseconds(0));
  CHECK(respaldo::parse_retry_after("Mon, 07 Nov 1994 08:49:30 GMT", now) ==
        milliseconds(86'400'000));
  for (const char* bad : {"", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 UTC",
                          "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 24:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"}) {
    INFO(bad);
    CHECK_FALSE(respaldo::parse_retry_after(bad, now));
  }
}

TEST_CASE("contract paths hang below the registered URL, with or without a trailing slash",
          "[exporter]") {
  struct row {
    const char* app_url;
    const char* expected_target;
  };
  for (const auto& r :
       {row{"http://mi-app:8000", "/backup/export"}, row{"http://mi-app:8000/", "/backup/export"},
        row{"http://host/app", "/app/backup/export"}, row{"http://host/app/", "/app/backup/export"},
        row{"https://host/a/b?x=1", "/a/b/backup/export"}}) {
    INFO(r.app_url);
    auto u = respaldo::contract_url(r.app_url, "backup/export");
    REQUIRE(u.has_value());
    CHECK(u->target == r.expected_target);
  }
  CHECK_FALSE(respaldo::contract_url("not a url", "backup/export").has_value());
}

TEST_CASE("an export download carries the app's token only to the app's own origin", "[exporter]") {
  respaldo::app_record app;
  app.url = "http://mi-app:8000";
  app.token = "secreto-compartido";
  auto has_auth = [](const respaldo::http_client_request& req) {
    for (const auto& h : req.headers)
      if (h.name == "Authorization") return true;
    return false;
  };
  auto same = respaldo::parse_http_url("http://mi-app:8000/downloads/7");
  auto other_port = respaldo::parse_http_url("http://mi-app:9000/downloads/7");
  auto other_host = respaldo::parse_http_url("https://objects.example/bucket/7?sig=abc");
  REQUIRE(same.has_value());
  REQUIRE(other_port.has_value());
  REQUIRE(other_host.has_value());
  CHECK(has_auth(respaldo::download_request(*same, app)));
  CHECK_FALSE(has_auth(respaldo::download_request(*other_port, app)));
  auto elsewhere = respaldo::download_request(*other_host, app);
  CHECK_FALSE(has_auth(elsewhere));
  CHECK(elsewhere.method == "GET");
  CHECK(elsewhere.target == "/bucket/7?sig=abc");
}

TEST_CASE("a download on another origin needs the operator's leave", "[exporter]") {
  respaldo::app_record app;
  app.url = "http://mi-app:8000/base";
  auto origin_of = [](const char* url) { return respaldo::parse_http_url(url)->origin; };
  const std::vector<std::string> none;
  CHECK(respaldo::check_download_origin(app, origin_of("http://mi-app:8000/dl/1"), none));
  for (const char* url : {"http://mi-app:9000/dl", "https://mi-app:8000/dl",
                          "http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8080/api",
                          "https://objects.example/bucket/7?sig=abc"}) {
    INFO(url);
    auto refused = respaldo::check_download_origin(app, origin_of(url), none);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == respaldo::errc::app_contract_violation);
    CHECK_THAT(refused.error().message, Catch::Contains(respaldo::to_string(origin_of(url))));
    CHECK_THAT(refused.error().message, Catch::Contains("--allow-download-origin"));
  }
  const std::vector<std::string> allowed{"objects.example", "cache.example:9000", "[fd00::7]:443"};
  CHECK(respaldo::check_download_origin(app, origin_of("https://objects.example/b/7"), allowed));
  CHECK(respaldo::check_download_origin(app, origin_of("http://objects.example:81/b"), allowed));
  CHECK(respaldo::check_download_origin(app, origin_of("http://cache.example:9000/x"), allowed));
  CHECK_FALSE(respaldo::check_download_origin(app, origin_of("http://cache.example/x"), allowed));
  CHECK(respaldo::check_download_origin(app, origin_of("https://[fd00::7]/x"), allowed));
  CHECK_FALSE(
      respaldo::check_download_origin(app, origin_of("https://objects.example.evil/x"), allowed));
}
