#include "respaldo/crypto/token_seal.hpp"

#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

std::string token_seal::seal(std::string_view app, std::string_view token) const {
  return box_.seal(token, app);
}

std::optional<std::string> token_seal::open(std::string_view app, std::string_view sealed) {
  auto token = box_.open(sealed, app);
  if (!token && unopenable_.emplace(app).second)
    log_.warn("app token cannot be opened with the current secret key; PATCH a new token",
              {{"app", std::string(app)}});
  return token;
}

}  // namespace respaldo
