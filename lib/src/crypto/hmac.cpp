// HMAC-SHA256 through OpenSSL's one-shot HMAC (webhook signatures).
#include <openssl/hmac.h>

#include <array>

#include "openssl_util.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  // An empty key is a valid HMAC key; OpenSSL wants a non-null pointer for it.
  static const unsigned char empty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
  if (!HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len))
    crypto_detail::openssl_failure("HMAC");
  return to_hex(out.data(), len);
}

}  // namespace respaldo
