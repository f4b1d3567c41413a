// Cryptographic building blocks on OpenSSL 3 (EVP only): digests, encodings, random tokens,
// sealing of secrets at rest and RS256 JWTs for Google service accounts. OpenSSL headers stay out
// of this header; the contexts are held through forward-declared types.
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/core/error.hpp"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace respaldo {

namespace detail {
struct md_ctx_deleter {
  void operator()(evp_md_ctx_st* p) const noexcept;
};
using md_ctx_ptr = std::unique_ptr<evp_md_ctx_st, md_ctx_deleter>;
}  // namespace detail

enum class digest_algorithm { sha256, md5 };

// Streaming message digest. After finish() the object is reset and can hash the next input; a
// moved-from object is usable again (it starts a fresh hash). One type for every algorithm, so
// that a new one is a line in the .cpp, not another class.
template <digest_algorithm Algorithm>
class basic_digest {
 public:
  static constexpr digest_algorithm algorithm = Algorithm;
  static constexpr std::size_t digest_size = Algorithm == digest_algorithm::sha256 ? 32 : 16;

  basic_digest();
  basic_digest(basic_digest&&) noexcept = default;
  basic_digest& operator=(basic_digest&&) noexcept = default;
  basic_digest(const basic_digest&) = delete;
  basic_digest& operator=(const basic_digest&) = delete;
  ~basic_digest() = default;

  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<unsigned char, digest_size> finish();
  std::string finish_hex();  // lowercase hex

 private:
  detail::md_ctx_ptr ctx_;
};

// Both instantiated in digest.cpp only.
extern template class basic_digest<digest_algorithm::sha256>;
extern template class basic_digest<digest_algorithm::md5>;

using sha256 = basic_digest<digest_algorithm::sha256>;
// Only to compare with Drive's md5Checksum; never for anything security related.
using md5 = basic_digest<digest_algorithm::md5>;

std::string sha256_hex(std::string_view data);
std::string md5_hex(std::string_view data);

// HMAC-SHA256 (RFC 2104) of `data` under `key`, lowercase hex: signs webhook bodies.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Lowercase hex of n bytes.
std::string to_hex(const unsigned char* p, std::size_t n);
// Exactly 64 hex digits, either case.
bool is_sha256_hex(std::string_view s) noexcept;
// Compares contents in time independent of where they differ (CRYPTO_memcmp); only the lengths
// leak, which is fine for tokens of a known format.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// `bytes` bytes from the OpenSSL CSPRNG, as base64url without padding (32 bytes -> 43 chars).
std::string random_token(std::size_t bytes = 32);

// RFC 4648 section 5 alphabet, no padding.
std::string base64url_encode(std::string_view data);
// Strict: no padding, no whitespace, only the url alphabet, and unused trailing bits must be zero
// (so every byte string has exactly one accepted encoding). nullopt when malformed.
std::optional<std::string> base64url_decode(std::string_view text);
// RFC 4648 section 4 alphabet, padded with '='.
std::string base64_encode(std::string_view data);

// Seals secrets at rest with AES-256-GCM: a random 96-bit nonce per seal and a 128-bit tag.
// Sealed format: "v1." + base64url(nonce || ciphertext || tag). `aad` binds a secret to its row
// (e.g. the app name), so a sealed value copied to another row does not open.
class secret_box {
 public:
  static constexpr std::size_t key_size = 32;
  static constexpr std::size_t nonce_size = 12;
  static constexpr std::size_t tag_size = 16;

  explicit secret_box(std::array<unsigned char, key_size> key) noexcept;
  secret_box(const secret_box&) = default;
  secret_box& operator=(const secret_box&) = default;
  ~secret_box();  // wipes the key

  // A box with a fresh random key.
  static secret_box generate();

  // Loads the key file: 32 raw bytes, or 64 hex digits with an optional trailing newline. When the
  // file does not exist and create_if_missing, writes a new random key there (64 hex digits and a
  // newline, mode 0600, created exclusively and fsynced). A file that group or others may access
  // is rejected. Failures are errc::invalid_argument; their messages name the path and the
  // problem, never the key.
  static outcome<secret_box> load_or_create(const std::string& path, bool create_if_missing);

  std::string seal(std::string_view plaintext, std::string_view aad) const;
  // nullopt when the text is malformed or was sealed under another key or aad, or was altered.
  std::optional<std::string> open(std::string_view sealed, std::string_view aad) const;

  // A key for another use (64 hex digits), the HMAC of `purpose` under this key: stable across
  // restarts and shared by every process holding the key file, while revealing nothing of it.
  std::string derive_key(std::string_view purpose) const;

 private:
  std::array<unsigned char, key_size> key_;
};

// RS256 JWT (RSASSA-PKCS1-v1_5 with SHA-256) as Google's service-account OAuth expects.
// private_key_pem: PKCS#8 "BEGIN PRIVATE KEY" or traditional "BEGIN RSA PRIVATE KEY", unencrypted,
// RSA of at least 2048 bits. Header {"alg":"RS256","typ":"JWT","kid":kid} (kid left out when
// empty). Returns header.claims.signature, each part base64url without padding.
// A key that cannot sign is errc::invalid_argument, the message saying why.
outcome<std::string> sign_jwt_rs256(std::string_view private_key_pem, std::string_view kid,
                                    const boost::json::object& claims);
// Checks the compact form, that the header says RS256, and the signature against a
// "BEGIN PUBLIC KEY" PEM. Claims (exp, aud, ...) are not interpreted.
bool verify_jwt_rs256(std::string_view jwt, std::string_view public_key_pem);

}  // namespace respaldo
