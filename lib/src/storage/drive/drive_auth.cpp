#include "respaldo/storage/drive/drive_auth.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/alnum_chars.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/client/exchange.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace urls = boost::urls;
using cred_result = outcome<drive_credentials>;

cred_result cred_error(std::string message) {
  return failure{make_error_code(errc::invalid_argument), std::move(message)};
}

failure auth_failure(std::string message) {
  return failure{make_error_code(errc::drive_auth_failed), std::move(message)};
}

std::string credentials_name(const drive_credentials& creds) {
  return creds.source.empty() ? std::string("the credentials file") : creds.source;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Credential files

cred_result parse_drive_credentials(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return cred_error("not valid JSON (" + ec.message() + ")");
  if (!doc.is_object()) return cred_error("expected a JSON object");
  const json::object& o = doc.get_object();

  drive_credentials c;
  std::string type_error;
  auto field = [&](const char* kind, const char* name, std::string& out, bool required) -> bool {
    const json::value* v = o.if_contains(name);
    if (!v || v->is_null()) {
      if (!required) return true;
      type_error = std::string(kind) + " credentials lack \"" + name + "\"";
      return false;
    }
    if (!v->is_string() || (required && v->get_string().empty())) {
      type_error = std::string(kind) + " credentials: \"" + name + "\" must be a non-empty string";
      return false;
    }
    out = std::string(v->get_string());
    return true;
  };

  std::string type;
  if (!field("the", "type", type, true))
    return cred_error(
        "the credentials lack \"type\" (expected \"service_account\" or \"authorized_user\")");
  if (type == "service_account") {
    c.type = drive_credentials::kind::service_account;
    for (auto [name, out] :
         {std::pair{"client_email", &c.client_email}, std::pair{"private_key", &c.private_key},
          std::pair{"private_key_id", &c.private_key_id}})
      if (!field("service_account", name, *out, true)) return cred_error(type_error);
    if (!field("service_account", "token_uri", c.token_uri, false)) return cred_error(type_error);
    // Sign once now, so a broken key stops start-up instead of every job.
    auto probe = sign_jwt_rs256(c.private_key, c.private_key_id, json::object{{"probe", 1}});
    if (!probe)
      return cred_error("service_account credentials: \"private_key\" is not usable: " +
                        probe.error().message);
  } else if (type == "authorized_user") {
    c.type = drive_credentials::kind::authorized_user;
    for (auto [name, out] :
         {std::pair{"client_id", &c.client_id}, std::pair{"client_secret", &c.client_secret},
          std::pair{"refresh_token", &c.refresh_token}})
      if (!field("authorized_user", name, *out, true)) return cred_error(type_error);
    if (!field("authorized_user", "token_uri", c.token_uri, false)) return cred_error(type_error);
  } else {
    return cred_error("unsupported credentials \"type\": \"" + printable_excerpt(type, 60) +
                      "\" (expected \"service_account\" or \"authorized_user\")");
  }
  if (!c.token_uri.empty()) {
    if (auto u = parse_http_url(c.token_uri); !u)
      return cred_error("\"token_uri\" is not a usable URL: " + u.error().message);
  }
  return c;
}

cred_result load_drive_credentials(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return cred_error(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return cred_error(path + ": cannot read the file");
  auto parsed = parse_drive_credentials(text.str());
  if (!parsed) return cred_error(path + ": " + parsed.error().message);
  parsed->source = path;
  return parsed;
}

std::string drive_token_url(const drive_credentials& creds, std::string_view override_url) {
  if (!override_url.empty()) return std::string(override_url);
  if (!creds.token_uri.empty()) return creds.token_uri;
  return std::string(google_token_url);
}

// ---------------------------------------------------------------------------------------------
// Token requests and replies

std::string form_urlencode(std::string_view value) {
  // application/x-www-form-urlencoded as browsers write it: alnum and "-._*" as is, space as '+'.
  static constexpr auto form_chars = urls::grammar::alnum_chars + urls::grammar::lut_chars("-._*");
  urls::encoding_opts opts;
  opts.space_as_plus = true;
  return urls::encode(value, form_chars, opts);
}

jwt_claims make_jwt_claims(const drive_credentials& creds, std::string_view token_url,
                           std::string_view subject, std::chrono::system_clock::time_point now) {
  // Issued a little in the past: a token endpoint whose clock runs behind must not see a JWT
  // from the future.
  constexpr std::int64_t skew = 10;
  jwt_claims c;
  c.iss = creds.client_email;
  c.scope = std::string(drive_scope);
  c.aud = std::string(token_url);
  c.sub = std::string(subject);
  c.iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() - skew;
  c.exp = c.iat + 3600;
  return c;
}

outcome<std::string> make_token_request_body(const drive_credentials& creds,
                                             std::string_view token_url, std::string_view subject,
                                             std::chrono::system_clock::time_point now) {
  if (creds.type == drive_credentials::kind::authorized_user) {
    return "grant_type=refresh_token&client_id=" + form_urlencode(creds.client_id) +
           "&client_secret=" + form_urlencode(creds.client_secret) +
           "&refresh_token=" + form_urlencode(creds.refresh_token);
  }
  const jwt_claims c = make_jwt_claims(creds, token_url, subject, now);
  json::object claims{
      {"iss", c.iss}, {"scope", c.scope}, {"aud", c.aud}, {"iat", c.iat}, {"exp", c.exp}};
  if (!c.sub.empty()) claims["sub"] = c.sub;
  auto jwt = sign_jwt_rs256(creds.private_key, creds.private_key_id, claims);
  if (!jwt)
    return auth_failure("cannot sign the service account's token request with the key in " +
                        credentials_name(creds) + ": " + jwt.error().message);
  return "grant_type=" + form_urlencode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
         "&assertion=" + form_urlencode(*jwt);
}

namespace {

// A string member of the reply, "" when absent or not a string (or the reply is not an object).
std::string reply_text(const json::object* o, const char* name) {
  if (!o) return "";
  const json::value* v = o->if_contains(name);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A 200 reply: a Bearer access_token and its lifetime (an hour when expires_in is missing).
outcome<access_token> issued_token(const json::object* o) {
  access_token t;
  t.value = reply_text(o, "access_token");
  if (t.value.empty())
    return auth_failure("the OAuth token endpoint answered 200 without an access_token");
  const std::string type = reply_text(o, "token_type");
  if (!type.empty() && type != "Bearer" && type != "bearer")
    return auth_failure("the OAuth token endpoint issued a \"" + printable_excerpt(type, 40) +
                        "\" token; only Bearer tokens are supported");
  // Lifetimes are capped at 2^30 s (34 years): anything longer would overflow the clock
  // arithmetic of token_refresh_due, and a double or string out of range is not a number to cast.
  constexpr std::int64_t max_lifetime = std::int64_t{1} << 30;
  std::int64_t seconds = 3600;
  if (const json::value* e = o->if_contains("expires_in")) {
    if (e->is_int64())
      seconds = std::min(e->get_int64(), max_lifetime);
    else if (e->is_uint64())
      seconds = max_lifetime;  // only values above INT64_MAX are stored as uint64
    else if (e->is_double())
      seconds = e->get_double() >= static_cast<double>(max_lifetime)
                    ? max_lifetime
                    : (e->get_double() >= 1 ? static_cast<std::int64_t>(e->get_double()) : 0);
    else if (e->is_string())
      seconds = std::min<long long>(std::strtoll(std::string(e->get_string()).c_str(), nullptr, 10),
                                    max_lifetime);
  }
  if (seconds <= 0) return auth_failure("the OAuth token endpoint issued an already expired token");
  t.expires_in = std::chrono::seconds(seconds);
  return t;
}

// invalid_grant: what to fix depends on the kind of credentials.
failure invalid_grant(const drive_credentials& creds, const std::string& said,
                      std::string_view subject) {
  const std::string file = credentials_name(creds);
  if (creds.type == drive_credentials::kind::service_account) {
    std::string m = "Google refused the service account's token request" + said +
                    ". Check that the key in " + file + " still exists and is enabled for " +
                    creds.client_email +
                    " (IAM > Service accounts > Keys), and that this machine's clock is right";
    if (!subject.empty())
      m += "; with --drive-impersonate, the service account's client id must be granted "
           "domain-wide delegation for the scope " +
           std::string(drive_scope) + " and the user must exist";
    return auth_failure(m + ". Then restart respaldo or retry the job.");
  }
  return auth_failure(
      "Google refused the refresh token" + said +
      ": it was revoked or has expired (OAuth apps left in \"Testing\" status issue refresh "
      "tokens that expire after 7 days). Authorize respaldo again to obtain a new "
      "authorized_user file, replace " +
      file + " and restart respaldo.");
}

}  // namespace

outcome<access_token> parse_token_reply(const drive_credentials& creds, unsigned status,
                                        std::string_view body, std::string_view subject) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  const json::object* o = !ec && doc.is_object() ? &doc.get_object() : nullptr;
  if (status == 200) return issued_token(o);

  const std::string error = reply_text(o, "error");
  const std::string description = printable_excerpt(reply_text(o, "error_description"), 200);
  const std::string shown = escaped_excerpt(error, 60);  // the endpoint's words, not ours
  const std::string said = " (" + (error.empty() ? "HTTP " + std::to_string(status) : shown) +
                           (description.empty() ? std::string() : ": " + description) + ")";
  if (status == 429 || status >= 500)
    return failure{make_error_code(errc::drive_rate_limited),
                   "the OAuth token endpoint is unavailable" + said + "; will retry"};
  if (error == "invalid_grant") return invalid_grant(creds, said, subject);
  if (error == "invalid_client")
    return auth_failure("Google refused the OAuth client" + said +
                        ": check client_id and "
                        "client_secret in " +
                        credentials_name(creds));
  if (error == "unauthorized_client")
    return auth_failure("the OAuth client is not allowed this grant" + said +
                        (subject.empty() ? std::string()
                                         : ": grant domain-wide delegation to the service account "
                                           "for the scope " +
                                               std::string(drive_scope)));
  if (error == "invalid_scope")
    return auth_failure("Google refused the scope " + std::string(drive_scope) + said);
  return auth_failure("the OAuth token endpoint refused the request with HTTP " +
                      std::to_string(status) + said);
}

std::chrono::steady_clock::time_point token_refresh_due(
    std::chrono::steady_clock::time_point issued, std::chrono::seconds expires_in) {
  const std::chrono::seconds margin =
      std::min<std::chrono::seconds>(std::chrono::seconds(60), expires_in / 2);
  return issued + expires_in - margin;
}

// ---------------------------------------------------------------------------------------------
// I/O

drive_token_source::drive_token_source(http_client& client, drive_credentials creds,
                                       std::string token_url, std::string subject, logger* log)
    : client_(client),
      creds_(std::move(creds)),
      token_url_(std::move(token_url)),
      subject_(std::move(subject)),
      log_(log),
      refresh_done_(std::make_unique<asio::steady_timer>(client.get_executor())) {}

drive_token_source::~drive_token_source() = default;

asio::awaitable<outcome<std::string>> drive_token_source::token() {
  for (;;) {
    if (!cached_.empty() && std::chrono::steady_clock::now() < due_) co_return cached_;
    if (!refreshing_) co_return co_await refresh();
    // Someone else is asking already: wait for that answer instead of asking twice.
    const std::uint64_t generation = generation_;
    co_await refresh_done_->async_wait(asio::as_tuple(asio::use_awaitable));
    if (generation_ != generation && last_error_) co_return *last_error_;
  }
}

void drive_token_source::invalidate(const std::string& rejected) {
  if (!cached_.empty() && cached_ == rejected) {
    cached_.clear();
    due_ = {};
  }
}

asio::awaitable<outcome<std::string>> drive_token_source::refresh() {
  refreshing_ = true;
  refresh_done_->expires_at(std::chrono::steady_clock::time_point::max());
  outcome<std::string> result = auth_failure("no token request was made");
  auto parsed_url = parse_http_url(token_url_);
  if (!parsed_url) {
    result = auth_failure("the OAuth token URL is not usable: " + parsed_url.error().message);
  } else {
    asio::steady_timer pause(client_.get_executor());
    for (int attempt = 1;; ++attempt) {
      const auto started = std::chrono::steady_clock::now();
      auto body =
          make_token_request_body(creds_, token_url_, subject_, std::chrono::system_clock::now());
      if (!body) {
        result = body.error();
        break;
      }
      http_client_request req;
      req.method = "POST";
      req.target = parsed_url->target;
      req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
      req.body = *body;
      exchange_options opts;
      opts.body_limit = 64 * 1024;
      auto reply = co_await http_exchange(client_, parsed_url->origin, req, opts);
      bool transient = false;
      if (!reply) {
        const auto ec = reply.error().code;
        result = failure{ec, "cannot reach the OAuth token endpoint " +
                                 to_string(parsed_url->origin) + ": " + reply.error().message};
        transient = ec != errc::tls_error && ec != errc::cancelled && ec != errc::invalid_argument;
      } else {
        auto parsed = parse_token_reply(creds_, reply->head.status, reply->body, subject_);
        if (parsed) {
          cached_ = std::move(parsed->value);
          due_ = token_refresh_due(started, parsed->expires_in);
          ++grants_;
          result = cached_;
          if (log_)
            log_->debug("drive access token granted",
                        {{"expires_in", static_cast<std::int64_t>(parsed->expires_in.count())}});
          break;
        }
        result = parsed.error();
        transient = parsed.error().code == errc::drive_rate_limited;
      }
      if (!transient || attempt >= 3) break;
      pause.expires_after(std::chrono::milliseconds(250 << attempt));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  if (!result && log_)
    log_->warn("drive access token request failed",
               {{"error", std::string(code_name(result.error().code))},
                {"detail", result.error().message}});
  refreshing_ = false;
  ++generation_;
  last_error_ = result ? std::nullopt : std::optional<failure>(result.error());
  refresh_done_->cancel();
  co_return result;
}

}  // namespace respaldo
