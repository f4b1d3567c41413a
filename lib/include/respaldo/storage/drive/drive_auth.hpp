// Google OAuth 2.0 for the Drive storage: Google's two credential files, read unchanged
// (`service_account` keys and `authorized_user` refresh tokens), and an access-token source that
// caches tokens, refreshes them before they expire and once more after Drive answers 401.
//
// The request building and reply parsing are plain functions (tested without sockets); the token
// source does the I/O through http_client. No message, log line or error produced here ever holds
// a token, a key, a client secret or a refresh token.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/core/error.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo {

class logger;

inline constexpr std::string_view google_token_url = "https://oauth2.googleapis.com/token";
inline constexpr std::string_view drive_scope = "https://www.googleapis.com/auth/drive";

struct drive_credentials {
  enum class kind { service_account, authorized_user };
  kind type = kind::service_account;
  std::string source;  // the file it was read from (for messages); may be empty
  // service_account
  std::string client_email;
  std::string private_key;  // PEM
  std::string private_key_id;
  // authorized_user
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;
  // Both (optional in authorized_user files).
  std::string token_uri;
};

// Parses a credentials JSON document. The error names the problem and the missing or malformed
// field (e.g. `service_account credentials lack "private_key_id"`), never a value. A service
// account's private key is checked to be a usable RSA key.
outcome<drive_credentials> parse_drive_credentials(std::string_view json);
// Reads and parses the file; errors start with the path.
outcome<drive_credentials> load_drive_credentials(const std::string& path);

// The token endpoint to use: the explicit URL, else the credentials' token_uri, else Google's.
std::string drive_token_url(const drive_credentials& creds, std::string_view override_url);

// application/x-www-form-urlencoded value encoding (space as '+').
std::string form_urlencode(std::string_view value);

// The claims of a service-account JWT assertion: iss, scope, aud, iat (`now` minus a few seconds
// of skew allowance), exp = iat + 3600 and, when `subject` is set, sub.
struct jwt_claims {
  std::string iss, scope, aud, sub;
  std::int64_t iat = 0, exp = 0;
};
jwt_claims make_jwt_claims(const drive_credentials& creds, std::string_view token_url,
                           std::string_view subject, std::chrono::system_clock::time_point now);

// The form body of the token request: the JWT-bearer grant for service accounts (signed with the
// key, header kid = private_key_id), the refresh-token grant for authorized users.
outcome<std::string> make_token_request_body(const drive_credentials& creds,
                                             std::string_view token_url, std::string_view subject,
                                             std::chrono::system_clock::time_point now);

struct access_token {
  std::string value;
  std::chrono::seconds expires_in{0};
};

// Interprets the token endpoint's reply. 200 with access_token -> the token; `invalid_grant`,
// `invalid_client`, `unauthorized_client`, `invalid_scope`, other 4xx -> drive_auth_failed with a
// message telling the operator what to do; 5xx and 429 -> drive_rate_limited (transient).
outcome<access_token> parse_token_reply(const drive_credentials& creds, unsigned status,
                                        std::string_view body, std::string_view subject = {});

// When a cached token should be replaced: `margin` before it expires, where the margin is a minute
// or, for short-lived tokens, half their lifetime.
std::chrono::steady_clock::time_point token_refresh_due(
    std::chrono::steady_clock::time_point issued, std::chrono::seconds expires_in);

// Hands out access tokens; shared by every Drive request of the process. Lives on one executor
// (the io_context's single thread); concurrent callers share a single refresh.
class drive_token_source {
 public:
  drive_token_source(http_client& client, drive_credentials creds, std::string token_url,
                     std::string subject, logger* log = nullptr);
  ~drive_token_source();
  drive_token_source(const drive_token_source&) = delete;
  drive_token_source& operator=(const drive_token_source&) = delete;

  // A valid token: the cached one, or a freshly granted one.
  boost::asio::awaitable<outcome<std::string>> token();
  // Drive refused `rejected` (401): the next token() asks for a new one (unless the cache already
  // moved on to another token).
  void invalidate(const std::string& rejected);

  const drive_credentials& credentials() const { return creds_; }
  const std::string& token_url() const { return token_url_; }
  // Grants obtained so far (for tests and metrics).
  std::uint64_t grants() const { return grants_; }

 private:
  boost::asio::awaitable<outcome<std::string>> refresh();

  http_client& client_;
  drive_credentials creds_;
  std::string token_url_;
  std::string subject_;
  logger* log_;
  std::string cached_;
  std::chrono::steady_clock::time_point due_{};
  bool refreshing_ = false;
  std::uint64_t generation_ = 0;       // bumped when a refresh ends
  std::optional<failure> last_error_;  // of the refresh that ended last
  std::unique_ptr<boost::asio::steady_timer> refresh_done_;
  std::uint64_t grants_ = 0;
};

}  // namespace respaldo
