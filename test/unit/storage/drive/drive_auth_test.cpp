#include "respaldo/storage/drive/drive_auth.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/client/client.hpp"
#include "support/async_test.hpp"
#include "support/temp_files.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using respaldo::drive_credentials;
using respaldo::errc;
using respaldo::test::run_with_deadline;

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct key_pair {
  std::string private_pem, public_pem;
};

// RSA key generation is slow: one key pair for every test here.
const key_pair& test_keys() {
  static const key_pair keys = [] {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
    REQUIRE(key);
    auto pem = [&](bool pub) {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
      if (pub)
        PEM_write_bio_PUBKEY(bio.get(), key.get());
      else
        PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
      char* data = nullptr;
      const long n = BIO_get_mem_data(bio.get(), &data);
      return std::string(data, static_cast<std::size_t>(n));
    };
    return key_pair{pem(false), pem(true)};
  }();
  return keys;
}

json::object service_account_json() {
  return {{"type", "service_account"},
          {"project_id", "respaldo-test"},
          {"private_key_id", "0123abcd"},
          {"private_key", test_keys().private_pem},
          {"client_email", "backup@respaldo-test.iam.gserviceaccount.com"},
          {"client_id", "1234567890"},
          {"token_uri", "https://oauth2.googleapis.com/token"}};
}

json::object authorized_user_json() {
  return {{"type", "authorized_user"},
          {"client_id", "123-abc.apps.googleusercontent.com"},
          {"client_secret", "GOCSPX-client-secret-value"},
          {"refresh_token", "1//0refresh-token-value"}};
}

std::map<std::string, std::string> parse_form(std::string_view body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+')
        out += ' ';
      else if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else
        out += s[i];
    }
    return out;
  };
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    auto eq = pair.find('=');
    out[decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
  }
  return out;
}

json::object jwt_part(const std::string& jwt, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = jwt.find('.', start) + 1;
  auto end = jwt.find('.', start);
  auto decoded = respaldo::base64url_decode(std::string_view(jwt).substr(start, end - start));
  REQUIRE(decoded);
  return json::parse(*decoded).as_object();
}

std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : "";
}

using respaldo::test::temp_file;

// ---- a token endpoint on loopback -----------------------------------------------------------

struct token_endpoint {
  struct reply {
    unsigned status;
    std::string body;
    std::chrono::milliseconds delay{0};
  };
  explicit token_endpoint(asio::io_context& io)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  tcp::acceptor acceptor;
  std::vector<std::string> bodies;
  std::vector<std::string> content_types;
  std::function<reply(const std::string& body, int n)> respond;

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/token";
  }
};

asio::awaitable<void> token_session(std::shared_ptr<token_endpoint> ep, tcp::socket sock) {
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(sock, buf, req, nothrow);
    if (ec) co_return;
    ep->bodies.push_back(req.body());
    ep->content_types.push_back(std::string(req[http::field::content_type]));
    auto r = ep->respond(req.body(), static_cast<int>(ep->bodies.size()));
    if (r.delay.count() > 0) {
      asio::steady_timer t(sock.get_executor());
      t.expires_after(r.delay);
      co_await t.async_wait(nothrow);
    }
    http::response<http::string_body> res(static_cast<http::status>(r.status), 11);
    res.set(http::field::content_type, "application/json");
    res.body() = r.body;
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(sock, res, nothrow);
    if (wec) co_return;
  }
}

asio::awaitable<void> token_accept(std::shared_ptr<token_endpoint> ep) {
  for (;;) {
    auto [ec, sock] = co_await ep->acceptor.async_accept(nothrow);
    if (ec) co_return;
    asio::co_spawn(ep->acceptor.get_executor(), token_session(ep, std::move(sock)), asio::detached);
  }
}

std::string grant(const std::string& token, int expires_in = 3599) {
  return R"({"access_token":")" + token + R"(","expires_in":)" + std::to_string(expires_in) +
         R"(,"token_type":"Bearer"})";
}

struct fixture {
  asio::io_context io;
  std::shared_ptr<token_endpoint> ep = std::make_shared<token_endpoint>(io);
  respaldo::http_client client{io.get_executor(), respaldo::http_client_options{}, nullptr};
  fixture() { asio::co_spawn(io, token_accept(ep), asio::detached); }

  drive_credentials user() {
    auto c = respaldo::parse_drive_credentials(json::serialize(authorized_user_json()));
    REQUIRE(c);
    return *c;
  }
  drive_credentials service_account() {
    auto c = respaldo::parse_drive_credentials(json::serialize(service_account_json()));
    REQUIRE(c);
    return *c;
  }
};

asio::awaitable<respaldo::outcome<std::string>> get_token(respaldo::drive_token_source& src) {
  co_return co_await src.token();
}

// Two token() calls in flight at once.
asio::awaitable<std::tuple<respaldo::outcome<std::string>, respaldo::outcome<std::string>>>
concurrently(respaldo::drive_token_source& src) {
  using namespace asio::experimental::awaitable_operators;
  auto both = get_token(src) && get_token(src);  // named: see the coroutine rules
  co_return co_await std::move(both);
}

}  // namespace

TEST_CASE("service_account credentials are read unchanged", "[drive_auth]") {
  auto c = respaldo::parse_drive_credentials(json::serialize(service_account_json()));
  REQUIRE(c);
  CHECK(c->type == drive_credentials::kind::service_account);
  CHECK(c->client_email == "backup@respaldo-test.iam.gserviceaccount.com");
  CHECK(c->private_key_id == "0123abcd");
  CHECK(c->private_key == test_keys().private_pem);
  CHECK(c->token_uri == "https://oauth2.googleapis.com/token");

  for (const char* field : {"client_email", "private_key", "private_key_id"}) {
    SECTION(std::string("missing ") + field) {
      auto o = service_account_json();
      o.erase(field);
      auto r = respaldo::parse_drive_credentials(json::serialize(o));
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error().message, Catch::Contains(std::string("lack \"") + field + "\""));
    }
    SECTION(std::string("empty or not a string: ") + field) {
      auto o = service_account_json();
      o[field] = 42;
      auto r = respaldo::parse_drive_credentials(json::serialize(o));
      REQUIRE_FALSE(r);
      CHECK_THAT(r.error().message,
                 Catch::Contains(std::string("\"") + field + "\" must be a non-empty string"));
    }
  }
  SECTION("token_uri is optional") {
    auto o = service_account_json();
    o.erase("token_uri");
    auto r = respaldo::parse_drive_credentials(json::serialize(o));
    REQUIRE(r);
    CHECK(respaldo::drive_token_url(*r, "") == "https://oauth2.googleapis.com/token");
  }
  SECTION("a private key that is not a key is refused without repeating it") {
    auto o = service_account_json();
    o["private_key"] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    auto r = respaldo::parse_drive_credentials(json::serialize(o));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("\"private_key\" is not usable"));
    CHECK_THAT(r.error().message, !Catch::Contains("bm90IGEga2V5"));
  }
  SECTION("a token_uri that is not a URL") {
    auto o = service_account_json();
    o["token_uri"] = "not a url";
    auto r = respaldo::parse_drive_credentials(json::serialize(o));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("token_uri"));
  }
}

TEST_CASE("authorized_user credentials are read unchanged", "[drive_auth]") {
  auto c = respaldo::parse_drive_credentials(json::serialize(authorized_user_json()));
  REQUIRE(c);
  CHECK(c->type == drive_credentials::kind::authorized_user);
  CHECK(c->client_id == "123-abc.apps.googleusercontent.com");
  CHECK(c->client_secret == "GOCSPX-client-secret-value");
  CHECK(c->refresh_token == "1//0refresh-token-value");
  CHECK(c->token_uri.empty());
  for (const char* field : {"client_id", "client_secret", "refresh_token"}) {
    SECTION(std::string("missing ") + field) {
      auto o = authorized_user_json();
      o.erase(field);
      auto r = respaldo::parse_drive_credentials(json::serialize(o));
      REQUIRE_FALSE(r);
      CHECK_THAT(
          r.error().message,
          Catch::Contains(std::string("authorized_user credentials lack \"") + field + "\""));
      CHECK_THAT(r.error().message, !Catch::Contains("GOCSPX") && !Catch::Contains("1//0refresh"));
    }
  }
}

TEST_CASE("malformed credential documents and files", "[drive_auth]") {
  using respaldo::parse_drive_credentials;
  CHECK_THAT(parse_drive_credentials("{").error().message, Catch::Contains("not valid JSON"));
  CHECK_THAT(parse_drive_credentials("[1]").error().message, Catch::Contains("JSON object"));
  CHECK_THAT(parse_drive_credentials(R"({"client_email":"x"})").error().message,
             Catch::Contains("lack \"type\""));
  CHECK_THAT(parse_drive_credentials(R"({"type":"external_account"})").error().message,
             Catch::Contains("unsupported credentials \"type\": \"external_account\""));

  auto missing = respaldo::load_drive_credentials("/nonexistent/dir/creds.json");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "/nonexistent/dir/creds.json: cannot read the file");

  auto o = authorized_user_json();
  o.erase("refresh_token");
  temp_file f(json::serialize(o));
  auto bad = respaldo::load_drive_credentials(f.path);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == f.path + ": authorized_user credentials lack \"refresh_token\"");

  temp_file good(json::serialize(authorized_user_json()));
  auto ok = respaldo::load_drive_credentials(good.path);
  REQUIRE(ok);
  CHECK(ok->source == good.path);
}

TEST_CASE("the token URL: flag, then token_uri, then Google's", "[drive_auth]") {
  drive_credentials c;
  CHECK(respaldo::drive_token_url(c, "") == "https://oauth2.googleapis.com/token");
  c.token_uri = "https://example.test/token";
  CHECK(respaldo::drive_token_url(c, "") == "https://example.test/token");
  CHECK(respaldo::drive_token_url(c, "http://127.0.0.1:9/token") == "http://127.0.0.1:9/token");
}

TEST_CASE("form encoding", "[drive_auth]") {
  CHECK(respaldo::form_urlencode("a b&c=d/e:f+g") == "a+b%26c%3Dd%2Fe%3Af%2Bg");
  CHECK(respaldo::form_urlencode("AZaz09-._*") == "AZaz09-._*");
  CHECK(respaldo::form_urlencode("\xc3\xb1") == "%C3%B1");
}

TEST_CASE("the service account's JWT grant", "[drive_auth]") {
  auto creds = respaldo::parse_drive_credentials(json::serialize(service_account_json()));
  REQUIRE(creds);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

  auto claims = respaldo::make_jwt_claims(*creds, "https://t.example/token", "", now);
  CHECK(claims.iss == creds->client_email);
  CHECK(claims.scope == "https://www.googleapis.com/auth/drive");
  CHECK(claims.aud == "https://t.example/token");
  CHECK(claims.iat < 1'800'000'000);
  CHECK(claims.iat > 1'800'000'000 - 60);
  CHECK(claims.exp == claims.iat + 3600);
  CHECK(claims.sub.empty());

  SECTION("signed, with kid, without sub") {
    auto body = respaldo::make_token_request_body(*creds, "https://t.example/token", "", now);
    REQUIRE(body);
    auto form = parse_form(*body);
    CHECK(form.at("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer");
    const std::string& jwt = form.at("assertion");
    CHECK(respaldo::verify_jwt_rs256(jwt, test_keys().public_pem));
    auto header = jwt_part(jwt, 0);
    CHECK(text(header.at("alg")) == "RS256");
    CHECK(text(header.at("typ")) == "JWT");
    CHECK(text(header.at("kid")) == "0123abcd");
    auto c = jwt_part(jwt, 1);
    CHECK(text(c.at("iss")) == creds->client_email);
    CHECK(text(c.at("aud")) == "https://t.example/token");
    CHECK(text(c.at("scope")) == "https://www.googleapis.com/auth/drive");
    CHECK(c.at("exp").as_int64() - c.at("iat").as_int64() == 3600);
    CHECK_FALSE(c.contains("sub"));
  }
  SECTION("impersonation sets sub") {
    auto body = respaldo::make_token_request_body(*creds, "https://t.example/token",
                                                  "ana@example.com", now);
    REQUIRE(body);
    auto c = jwt_part(parse_form(*body).at("assertion"), 1);
    CHECK(text(c.at("sub")) == "ana@example.com");
  }
}

TEST_CASE("the refresh-token grant", "[drive_auth]") {
  auto creds = respaldo::parse_drive_credentials(json::serialize(authorized_user_json()));
  REQUIRE(creds);
  auto body = respaldo::make_token_request_body(*creds, "u", "", std::chrono::system_clock::now());
  REQUIRE(body);
  auto form = parse_form(*body);
  CHECK(form.at("grant_type") == "refresh_token");
  CHECK(form.at("client_id") == "123-abc.apps.googleusercontent.com");
  CHECK(form.at("client_secret") == "GOCSPX-client-secret-value");
  CHECK(form.at("refresh_token") == "1//0refresh-token-value");
}

TEST_CASE("token endpoint replies", "[drive_auth]") {
  auto sa = respaldo::parse_drive_credentials(json::serialize(service_account_json()));
  auto user = respaldo::parse_drive_credentials(json::serialize(authorized_user_json()));
  REQUIRE(sa);
  REQUIRE(user);
  user->source = "/etc/respaldo/user.json";
  using respaldo::parse_token_reply;

  SECTION("a grant") {
    auto t = parse_token_reply(*sa, 200, grant("ya29.token", 3599));
    REQUIRE(t);
    CHECK(t->value == "ya29.token");
    CHECK(t->expires_in == std::chrono::seconds(3599));
    CHECK_FALSE(parse_token_reply(*sa, 200, R"({"expires_in":3599})"));
    CHECK_FALSE(parse_token_reply(*sa, 200, R"({"access_token":"x","token_type":"MAC"})"));
    CHECK_FALSE(parse_token_reply(*sa, 200, "not json"));
  }
  // Found by fuzzing: an out-of-range double was cast to an integer (undefined behaviour).
  SECTION("lifetimes beyond 2^30 s are capped, whatever their JSON type") {
    constexpr std::chrono::seconds cap{std::int64_t{1} << 30};
    for (const char* e : {"77777777777777777777777777", "1e300", "99999999999999999999",
                          "9223372036854775807", "\"99999999999999999999999\""}) {
      auto t = parse_token_reply(*sa, 200,
                                 std::string(R"({"access_token":"x","expires_in":)") + e + "}");
      INFO(e);
      REQUIRE(t);
      CHECK(t->expires_in == cap);
    }
    CHECK(parse_token_reply(*sa, 200, R"({"access_token":"x","expires_in":"120"})")->expires_in ==
          std::chrono::seconds(120));
    CHECK_FALSE(parse_token_reply(*sa, 200, R"({"access_token":"x","expires_in":-1e300})"));
    CHECK_FALSE(parse_token_reply(*sa, 200, R"({"access_token":"x","expires_in":0.5})"));
  }
  SECTION("invalid_grant for a revoked refresh token says what to do") {
    auto t = parse_token_reply(
        *user, 400,
        R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})");
    REQUIRE_FALSE(t);
    CHECK(t.error().code == errc::drive_auth_failed);
    const auto& m = t.error().message;
    CHECK_THAT(m, Catch::Contains("Token has been expired or revoked."));
    CHECK_THAT(m, Catch::Contains("/etc/respaldo/user.json"));
    CHECK_THAT(m, Catch::Contains("7 days"));
    CHECK_THAT(m, !Catch::Contains("1//0refresh") && !Catch::Contains("GOCSPX"));
  }
  SECTION("invalid_grant for a service account points at the key, the clock and delegation") {
    auto t = parse_token_reply(
        *sa, 400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})",
        "ana@example.com");
    REQUIRE_FALSE(t);
    CHECK(t.error().code == errc::drive_auth_failed);
    CHECK_THAT(t.error().message, Catch::Contains("clock"));
    CHECK_THAT(t.error().message, Catch::Contains("domain-wide delegation"));
    CHECK_THAT(t.error().message, !Catch::Contains("PRIVATE KEY"));
  }
  SECTION("other refusals") {
    CHECK(parse_token_reply(*user, 401, R"({"error":"invalid_client"})").error().code ==
          errc::drive_auth_failed);
    CHECK(parse_token_reply(*sa, 400, R"({"error":"invalid_scope"})").error().code ==
          errc::drive_auth_failed);
    CHECK(parse_token_reply(*sa, 403, "").error().code == errc::drive_auth_failed);
  }
  SECTION("an unavailable endpoint is transient") {
    auto t = parse_token_reply(*sa, 503, "");
    REQUIRE_FALSE(t);
    CHECK(t.error().code == errc::drive_rate_limited);
    CHECK(respaldo::is_transient(t.error().code));
  }
}

TEST_CASE("tokens are refreshed a minute before they expire", "[drive_auth]") {
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(5));
  CHECK(respaldo::token_refresh_due(t0, std::chrono::seconds(3599)) ==
        t0 + std::chrono::seconds(3539));
  CHECK(respaldo::token_refresh_due(t0, std::chrono::seconds(10)) == t0 + std::chrono::seconds(5));
}

TEST_CASE("the token source caches, refreshes and shares one request", "[drive_auth]") {
  fixture fx;
  int issued = 0;
  fx.ep->respond = [&](const std::string&, int) {
    ++issued;
    return token_endpoint::reply{200, grant("tok-" + std::to_string(issued)), 50ms};
  };
  respaldo::drive_token_source src(fx.client, fx.user(), fx.ep->url(), "");

  auto first = run_with_deadline(fx.io, get_token(src));
  REQUIRE(first);
  CHECK(*first == "tok-1");
  CHECK(fx.ep->content_types.at(0) == "application/x-www-form-urlencoded");
  CHECK(parse_form(fx.ep->bodies.at(0)).at("grant_type") == "refresh_token");
  auto again = run_with_deadline(fx.io, get_token(src));
  CHECK(*again == "tok-1");
  CHECK(src.grants() == 1);

  SECTION("a rejected token is replaced") {
    src.invalidate("some-other-token");
    CHECK(*run_with_deadline(fx.io, get_token(src)) == "tok-1");
    src.invalidate("tok-1");
    CHECK(*run_with_deadline(fx.io, get_token(src)) == "tok-2");
    CHECK(src.grants() == 2);
  }
  SECTION("concurrent callers share one refresh") {
    src.invalidate("tok-1");
    auto both = [&]() -> asio::awaitable<std::pair<std::string, std::string>> {
      auto [ra, rb] = co_await concurrently(src);
      co_return std::pair{ra.value(), rb.value()};
    };
    auto [a, b] = run_with_deadline(fx.io, both());
    CHECK(a == "tok-2");
    CHECK(b == "tok-2");
    CHECK(src.grants() == 2);
    CHECK(fx.ep->bodies.size() == 2);
  }
}

TEST_CASE("the token source refreshes an expiring token", "[drive_auth]") {
  fixture fx;
  int issued = 0;
  fx.ep->respond = [&](const std::string&, int) {
    ++issued;
    return token_endpoint::reply{200, grant("tok-" + std::to_string(issued), 2)};
  };
  respaldo::drive_token_source src(fx.client, fx.user(), fx.ep->url(), "");
  CHECK(*run_with_deadline(fx.io, get_token(src)) == "tok-1");
  CHECK(*run_with_deadline(fx.io, get_token(src)) == "tok-1");
  auto pause = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(fx.io);
    t.expires_after(1100ms);
    co_await t.async_wait(nothrow);
  };
  run_with_deadline(fx.io, pause());
  CHECK(*run_with_deadline(fx.io, get_token(src)) == "tok-2");
}

TEST_CASE("the token source signs service-account grants the endpoint can verify", "[drive_auth]") {
  fixture fx;
  fx.ep->respond = [&](const std::string& body, int) {
    auto form = parse_form(body);
    const bool ok = form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" &&
                    respaldo::verify_jwt_rs256(form["assertion"], test_keys().public_pem) &&
                    text(jwt_part(form["assertion"], 1).at("aud")) == fx.ep->url() &&
                    text(jwt_part(form["assertion"], 1).at("sub")) == "ana@example.com";
    return ok ? token_endpoint::reply{200, grant("sa-token")}
              : token_endpoint::reply{400, R"({"error":"invalid_grant"})"};
  };
  respaldo::drive_token_source src(fx.client, fx.service_account(), fx.ep->url(),
                                   "ana@example.com");
  auto t = run_with_deadline(fx.io, get_token(src));
  REQUIRE(t);
  CHECK(*t == "sa-token");
}

TEST_CASE("token source failures", "[drive_auth]") {
  fixture fx;
  SECTION("invalid_grant reaches every waiting caller and is not retried") {
    fx.ep->respond = [](const std::string&, int) {
      return token_endpoint::reply{
          400,
          R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})",
          30ms};
    };
    respaldo::drive_token_source src(fx.client, fx.user(), fx.ep->url(), "");
    auto [a, b] = run_with_deadline(fx.io, concurrently(src));
    REQUIRE_FALSE(a);
    REQUIRE_FALSE(b);
    CHECK(a.error().code == errc::drive_auth_failed);
    CHECK(b.error().code == errc::drive_auth_failed);
    CHECK(fx.ep->bodies.size() == 1);
  }
  SECTION("a 503 is retried") {
    fx.ep->respond = [](const std::string&, int n) {
      return n == 1 ? token_endpoint::reply{503, "{}"} : token_endpoint::reply{200, grant("late")};
    };
    respaldo::drive_token_source src(fx.client, fx.user(), fx.ep->url(), "");
    auto t = run_with_deadline(fx.io, get_token(src));
    REQUIRE(t);
    CHECK(*t == "late");
    CHECK(fx.ep->bodies.size() == 2);
  }
  SECTION("an unreachable endpoint names it") {
    const std::string url = fx.ep->url();
    fx.ep->acceptor.close();
    respaldo::drive_token_source src(fx.client, fx.user(), url, "");
    auto t = run_with_deadline(fx.io, get_token(src), 20s);
    REQUIRE_FALSE(t);
    CHECK_THAT(t.error().message,
               Catch::Contains("cannot reach the OAuth token endpoint http://127.0.0.1:"));
    CHECK(respaldo::is_transient(t.error().code));
  }
}

// Found by the drive_responses fuzz target: the endpoint's error code is its text, not ours.
TEST_CASE("drive auth: an error code with control characters is escaped", "[drive][auth]") {
  respaldo::drive_credentials creds;
  auto reply = respaldo::parse_token_reply(creds, 400, R"({"error":"in\u007f\u001bvalid"})");
  REQUIRE_FALSE(reply.has_value());
  CHECK(reply.error().message.find('\x1b') == std::string::npos);
  CHECK(reply.error().message.find('\x7f') == std::string::npos);
  CHECK_THAT(reply.error().message, Catch::Contains("in\\x7f\\x1bvalid"));
}
