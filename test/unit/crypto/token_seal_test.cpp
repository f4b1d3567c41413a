// App tokens sealed with the secret key and the app's name, and opened back by the callers that
// talk to the app.
#include "respaldo/crypto/token_seal.hpp"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace {

using namespace respaldo;

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

struct sealing {
  secret_box box = secret_box::generate();
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  token_seal tokens{box, log};
};

}  // namespace

TEST_CASE("token_seal: a sealed token opens back for its app", "[token_seal]") {
  sealing s;
  const std::string sealed = s.tokens.seal("mi-app", "secreto-compartido");
  CHECK(sealed.find("secreto-compartido") == std::string::npos);
  CHECK(sealed.rfind("v1.", 0) == 0);
  CHECK(s.tokens.open("mi-app", sealed) == "secreto-compartido");
  // Sealing twice gives different texts (a fresh nonce) that both open.
  const std::string again = s.tokens.seal("mi-app", "secreto-compartido");
  CHECK(again != sealed);
  CHECK(s.tokens.open("mi-app", again) == "secreto-compartido");
  CHECK(s.log_text.str().empty());
}

TEST_CASE("token_seal: another app's name does not open the token", "[token_seal]") {
  sealing s;
  const std::string sealed = s.tokens.seal("mi-app", "secreto-compartido");
  CHECK_FALSE(s.tokens.open("otra-app", sealed));
  CHECK_THAT(s.log_text.str(), Catch::Contains("app=otra-app"));
  CHECK(s.log_text.str().find("secreto-compartido") == std::string::npos);
  CHECK(s.tokens.open("mi-app", sealed) == "secreto-compartido");
}

TEST_CASE("token_seal: a token sealed under another key is refused and said once per app",
          "[token_seal]") {
  sealing s;
  secret_box old_key = secret_box::generate();
  std::ostringstream old_log;
  logger quiet{log_format::text, &old_log, log_level::debug};
  token_seal old_tokens(old_key, quiet);
  const std::string first = old_tokens.seal("uno", "token-uno");
  const std::string second = old_tokens.seal("dos", "token-dos");

  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(s.tokens.open("uno", first));
    CHECK_FALSE(s.tokens.open("dos", second));
  }
  CHECK_FALSE(s.tokens.open("uno", "not even a sealed text"));
  const auto text = s.log_text.str();
  CHECK_THAT(text, Catch::Contains("cannot be opened") && Catch::Contains("PATCH a new token"));
  CHECK(count_of(text, "app=uno") == 1);
  CHECK(count_of(text, "app=dos") == 1);
  CHECK(text.find("token-uno") == std::string::npos);
  // The old key still opens what it sealed: nothing was altered.
  CHECK(old_tokens.open("uno", first) == "token-uno");
  // A token PATCHed under the current key works again.
  CHECK(s.tokens.open("uno", s.tokens.seal("uno", "nuevo")) == "nuevo");
}
