#include "respaldo/crypto/crypto.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>

#include "respaldo/core/file_io.hpp"

namespace respaldo {

void detail::md_ctx_deleter::operator()(evp_md_ctx_st* p) const noexcept {
  EVP_MD_CTX_free(p);
}

namespace {

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
[[noreturn]] void openssl_failure(const char* what) {
  ERR_clear_error();
  throw std::runtime_error(std::string("OpenSSL failure: ") + what);
}

// Keeps a buffer that held secret material from lingering in freed memory.
struct cleanse_guard {
  void* p;
  std::size_t n;
  ~cleanse_guard() { OPENSSL_cleanse(p, n); }
};

// --- digests ---------------------------------------------------------------------------------

detail::md_ctx_ptr new_md_ctx(const EVP_MD* md) {
  detail::md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  if (EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) openssl_failure("EVP_DigestInit_ex2");
  return ctx;
}

void md_update(detail::md_ctx_ptr& ctx, const EVP_MD* md, const void* data, std::size_t n) {
  if (!ctx) ctx = new_md_ctx(md);  // moved-from object
  if (n == 0) return;
  if (EVP_DigestUpdate(ctx.get(), data, n) != 1) openssl_failure("EVP_DigestUpdate");
}

template <std::size_t N>
std::array<unsigned char, N> md_finish(detail::md_ctx_ptr& ctx, const EVP_MD* md) {
  if (!ctx) ctx = new_md_ctx(md);
  std::array<unsigned char, N> out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != N) {
    openssl_failure("EVP_DigestFinal_ex");
  }
  if (EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) openssl_failure("EVP_DigestInit_ex2");
  return out;
}

// --- base64 ----------------------------------------------------------------------------------

constexpr char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64_encode(std::string_view in, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

int b64url_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// --- secret box --------------------------------------------------------------------------------

// OpenSSL takes int lengths; secrets are small, but feed big inputs in pieces all the same.
constexpr std::size_t max_cipher_step = std::size_t{1} << 30;

bool cipher_update(EVP_CIPHER_CTX* ctx, bool encrypt, unsigned char* out, const unsigned char* in,
                   std::size_t n, std::size_t& written) {
  written = 0;
  while (n > 0) {
    const int step = static_cast<int>(std::min(n, max_cipher_step));
    int outl = 0;
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, out ? out + written : nullptr, &outl, in, step)
                           : EVP_DecryptUpdate(ctx, out ? out + written : nullptr, &outl, in, step);
    if (ok != 1) return false;
    written += static_cast<std::size_t>(outl);
    in += step;
    n -= static_cast<std::size_t>(step);
  }
  return true;
}

std::string key_file_error(const std::string& path, const std::string& what) {
  return "secret key file \"" + path + "\": " + what;
}

std::string errno_text(int e) {
  return std::strerror(e);
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Parses 32 raw bytes or 64 hex digits with an optional "\n" (or "\r\n").
std::optional<std::array<unsigned char, secret_box::key_size>> parse_key(std::string_view text) {
  std::array<unsigned char, secret_box::key_size> key{};
  if (text.size() == secret_box::key_size) {
    std::memcpy(key.data(), text.data(), key.size());
    return key;
  }
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text.ends_with('\r')) text.remove_suffix(1);
  if (text.size() != 2 * secret_box::key_size) return std::nullopt;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      OPENSSL_cleanse(key.data(), key.size());
      return std::nullopt;
    }
    key[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return key;
}

// --- JWT -------------------------------------------------------------------------------------

// Never prompt on a terminal for the passphrase of an encrypted PEM: fail instead.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? std::string(" (") + reason + ")" : std::string();
}

using jwt_result = boost::system::result<std::string, std::string>;

// Value and error are both strings here, so say which one is meant.
jwt_result jwt_error(std::string message) {
  return jwt_result(boost::system::in_place_error, std::move(message));
}

bio_ptr memory_bio(std::string_view data) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  bio_ptr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) throw std::bad_alloc();
  return bio;
}

}  // namespace

// --- digests -----------------------------------------------------------------------------------

sha256::sha256() : ctx_(new_md_ctx(EVP_sha256())) {}
void sha256::update(const void* data, std::size_t n) {
  md_update(ctx_, EVP_sha256(), data, n);
}
std::array<unsigned char, sha256::digest_size> sha256::finish() {
  return md_finish<digest_size>(ctx_, EVP_sha256());
}
std::string sha256::finish_hex() {
  const auto d = finish();
  return to_hex(d.data(), d.size());
}

md5::md5() : ctx_(new_md_ctx(EVP_md5())) {}
void md5::update(const void* data, std::size_t n) {
  md_update(ctx_, EVP_md5(), data, n);
}
std::array<unsigned char, md5::digest_size> md5::finish() {
  return md_finish<digest_size>(ctx_, EVP_md5());
}
std::string md5::finish_hex() {
  const auto d = finish();
  return to_hex(d.data(), d.size());
}

std::string sha256_hex(std::string_view data) {
  sha256 h;
  h.update(data);
  return h.finish_hex();
}

std::string md5_hex(std::string_view data) {
  md5 h;
  h.update(data);
  return h.finish_hex();
}

// --- small helpers -------------------------------------------------------------------------------

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0x0f];
  }
  return out;
}

bool is_sha256_hex(std::string_view s) noexcept {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (hex_value(c) < 0) return false;
  }
  return true;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_token(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(INT_MAX)) throw std::length_error("random_token: too long");
  std::string raw(bytes, '\0');
  if (bytes > 0 &&
      RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    openssl_failure("RAND_bytes");
  }
  std::string token = base64url_encode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return token;
}

std::string base64url_encode(std::string_view data) {
  return b64_encode(data, b64_url, false);
}

std::string base64_encode(std::string_view data) {
  return b64_encode(data, b64_std, true);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  // 4 chars -> 3 bytes; a final group of 2 or 3 chars -> 1 or 2 bytes; 1 char cannot occur.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = b64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits (2 or 4) must be zero for the encoding to be canonical.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// --- secret box --------------------------------------------------------------------------------

secret_box::secret_box(std::array<unsigned char, key_size> key) noexcept : key_(key) {
  OPENSSL_cleanse(key.data(), key.size());
}

secret_box::~secret_box() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

secret_box secret_box::generate() {
  std::array<unsigned char, key_size> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) openssl_failure("RAND_bytes");
  secret_box box(key);
  OPENSSL_cleanse(key.data(), key.size());
  return box;
}

boost::system::result<secret_box, std::string> secret_box::load_or_create(const std::string& path,
                                                                          bool create_if_missing) {
  // Two rounds at most: when another process creates the file between our attempts, read theirs.
  for (int round = 0; round < 2; ++round) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        return key_file_error(path, "cannot stat: " + errno_text(e));
      }
      if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return key_file_error(path, "is not a regular file");
      }
      if ((st.st_mode & 077) != 0) {
        ::close(fd);
        return key_file_error(path, "permissions " + mode_text(st.st_mode) +
                                        " are too open (group or others may access it); "
                                        "it must be 0600 or stricter, e.g. chmod 600 on it");
      }
      // Read a little more than the largest valid size, to tell "too long" from "just right".
      std::array<char, 2 * key_size + 8> buf{};
      cleanse_guard wipe{buf.data(), buf.size()};
      std::size_t got = 0;
      bool read_error = false;
      int read_errno = 0;
      while (got < buf.size()) {
        const ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
        if (r < 0) {
          if (errno == EINTR) continue;
          read_error = true;
          read_errno = errno;
          break;
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
      }
      ::close(fd);
      if (read_error) return key_file_error(path, "cannot read: " + errno_text(read_errno));
      auto key = parse_key(std::string_view(buf.data(), got));
      if (!key) {
        const std::string size = got == buf.size() ? "more than " + std::to_string(2 * key_size + 2)
                                                   : std::to_string(got);
        return key_file_error(path, "has " + size +
                                        " bytes that are not a key; expected 32 raw bytes or 64 "
                                        "hex digits with an optional newline");
      }
      secret_box box(*key);
      OPENSSL_cleanse(key->data(), key->size());
      return box;
    }
    const int open_errno = errno;
    if (open_errno != ENOENT) return key_file_error(path, "cannot open: " + errno_text(open_errno));
    if (!create_if_missing) return key_file_error(path, "does not exist");

    const int wfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd < 0) {
      const int e = errno;
      if (e == EEXIST) continue;  // created concurrently: load that one
      return key_file_error(path, "cannot create: " + errno_text(e));
    }
    std::array<unsigned char, key_size> key{};
    cleanse_guard wipe_key{key.data(), key.size()};
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
      ::close(wfd);
      ::unlink(path.c_str());
      openssl_failure("RAND_bytes");
    }
    std::string text = to_hex(key.data(), key.size()) + "\n";
    cleanse_guard wipe_text{text.data(), text.size()};
    // The umask may only have removed bits; set the exact mode all the same.
    bool ok = ::fchmod(wfd, 0600) == 0 && write_fully(wfd, text.data(), text.size()) == 0 &&
              ::fsync(wfd) == 0;
    int e = ok ? 0 : errno;
    if (::close(wfd) != 0 && ok) {
      ok = false;
      e = errno;
    }
    if (!ok) {
      // Leave no truncated key behind: it would block every later start.
      ::unlink(path.c_str());
      return key_file_error(path, "cannot write the new key: " + errno_text(e));
    }
    sync_parent_directory(path);
    return secret_box(key);
  }
  return key_file_error(path, "appeared and vanished while being created; try again");
}

std::string secret_box::seal(std::string_view plaintext, std::string_view aad) const {
  std::string raw(nonce_size + plaintext.size() + tag_size, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(raw.data());
  auto* body = nonce + nonce_size;
  if (RAND_bytes(nonce, static_cast<int>(nonce_size)) != 1) openssl_failure("RAND_bytes");

  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::bad_alloc();
  // AES-GCM's default IV length is 12 bytes, which is nonce_size.
  if (EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key_.data(), nonce, nullptr) != 1) {
    openssl_failure("EVP_EncryptInit_ex2");
  }
  std::size_t written = 0;
  if (!cipher_update(ctx.get(), true, nullptr, reinterpret_cast<const unsigned char*>(aad.data()),
                     aad.size(), written) ||
      !cipher_update(ctx.get(), true, body,
                     reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                     written) ||
      written != plaintext.size()) {
    openssl_failure("EVP_EncryptUpdate");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), body + written, &final_len) != 1 || final_len != 0) {
    openssl_failure("EVP_EncryptFinal_ex");
  }
  unsigned char* tag = body + plaintext.size();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, tag_size),
      OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_get_params(ctx.get(), params) != 1) openssl_failure("get AEAD tag");
  return "v1." + base64url_encode(raw);
}

std::optional<std::string> secret_box::open(std::string_view sealed, std::string_view aad) const {
  constexpr std::string_view prefix = "v1.";
  if (!sealed.starts_with(prefix)) return std::nullopt;
  auto raw = base64url_decode(sealed.substr(prefix.size()));
  if (!raw || raw->size() < nonce_size + tag_size) return std::nullopt;
  auto* nonce = reinterpret_cast<unsigned char*>(raw->data());
  auto* body = nonce + nonce_size;
  const std::size_t body_size = raw->size() - nonce_size - tag_size;
  unsigned char* tag = body + body_size;

  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::bad_alloc();
  if (EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key_.data(), nonce, nullptr) != 1) {
    openssl_failure("EVP_DecryptInit_ex2");
  }
  std::string plain(body_size, '\0');
  std::size_t aad_written = 0;
  std::size_t written = 0;
  const bool updated =
      cipher_update(ctx.get(), false, nullptr, reinterpret_cast<const unsigned char*>(aad.data()),
                    aad.size(), aad_written) &&
      cipher_update(ctx.get(), false, reinterpret_cast<unsigned char*>(plain.data()), body,
                    body_size, written) &&
      written == body_size;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, tag_size),
      OSSL_PARAM_construct_end()};
  int final_len = 0;
  const bool authentic = updated && EVP_CIPHER_CTX_set_params(ctx.get(), params) == 1 &&
                         EVP_DecryptFinal_ex(ctx.get(), nullptr, &final_len) == 1;
  if (!authentic) {
    // Unauthenticated plaintext must not linger.
    OPENSSL_cleanse(plain.data(), plain.size());
    ERR_clear_error();
    return std::nullopt;
  }
  return plain;
}

// --- JWT ---------------------------------------------------------------------------------------

boost::system::result<std::string, std::string> sign_jwt_rs256(std::string_view private_key_pem,
                                                               std::string_view kid,
                                                               const boost::json::object& claims) {
  auto bio = memory_bio(private_key_pem);
  if (!bio) return jwt_error("private key PEM is too large");
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    return jwt_error(
        "cannot read the private key: expected an unencrypted PEM \"BEGIN PRIVATE KEY\" "
        "(PKCS#8) or \"BEGIN RSA PRIVATE KEY\"" +
        openssl_reason());
  }
  if (!EVP_PKEY_is_a(key.get(), "RSA")) {
    ERR_clear_error();
    return jwt_error("the private key is not an RSA key; RS256 needs RSA");
  }
  // RFC 7518 section 3.3: RS256 keys must have at least 2048 bits.
  if (EVP_PKEY_get_bits(key.get()) < 2048) {
    return jwt_error("the RSA private key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                     " bits; RS256 needs at least 2048");
  }

  boost::json::object header;
  header["alg"] = "RS256";
  header["typ"] = "JWT";
  if (!kid.empty()) header["kid"] = kid;
  std::string signing_input = base64url_encode(boost::json::serialize(header)) + "." +
                              base64url_encode(boost::json::serialize(claims));

  detail::md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  // RSA keys sign with PKCS#1 v1.5 padding unless told otherwise.
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return jwt_error("cannot use the RSA private key for signing" + openssl_reason());
  }
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t sig_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &sig_len, in, signing_input.size()) != 1) {
    return jwt_error("signing the JWT failed" + openssl_reason());
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len, in,
                     signing_input.size()) != 1) {
    return jwt_error("signing the JWT failed" + openssl_reason());
  }
  sig.resize(sig_len);
  return jwt_result(boost::system::in_place_value, signing_input + "." + base64url_encode(sig));
}

bool verify_jwt_rs256(std::string_view jwt, std::string_view public_key_pem) {
  const auto dot1 = jwt.find('.');
  if (dot1 == std::string_view::npos) return false;
  const auto dot2 = jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view signing_input = jwt.substr(0, dot2);
  const auto header_text = base64url_decode(jwt.substr(0, dot1));
  const auto claims_text = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto sig = base64url_decode(jwt.substr(dot2 + 1));
  if (!header_text || !claims_text || !sig || sig->empty()) return false;

  // The header must name RS256 itself: never let the token choose another algorithm.
  boost::system::error_code ec;
  const boost::json::value header = boost::json::parse(*header_text, ec);
  if (ec || !header.is_object()) return false;
  const auto* alg = header.as_object().if_contains("alg");
  if (!alg || !alg->is_string() || alg->get_string() != "RS256") return false;
  const boost::json::value claims = boost::json::parse(*claims_text, ec);
  if (ec || !claims.is_object()) return false;

  auto bio = memory_bio(public_key_pem);
  if (!bio) return false;
  pkey_ptr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key || !EVP_PKEY_is_a(key.get(), "RSA")) {
    ERR_clear_error();
    return false;
  }
  detail::md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  const bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace respaldo
