// Private to crypto/: OpenSSL handle owners and the failure policy shared by its sources.
#pragma once

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace respaldo::crypto_detail {

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); }
};
struct pkey_deleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct pkey_ctx_deleter {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct bio_deleter {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

// Failures of OpenSSL calls that cannot fail on valid input (allocation, a broken library) are
// broken invariants: they throw. The error queue is cleared so that stale entries do not confuse
// later users of OpenSSL on this thread (TLS reads check the queue).
[[noreturn]] inline void openssl_failure(const char* what) {
  ERR_clear_error();
  throw std::runtime_error(std::string("OpenSSL failure: ") + what);
}

// Keeps a buffer that held secret material from lingering in freed memory.
struct cleanse_guard {
  void* p;
  std::size_t n;
  ~cleanse_guard() { OPENSSL_cleanse(p, n); }
};

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace respaldo::crypto_detail
