// Secrets sealed at rest with AES-256-GCM under a key file.
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "openssl_util.hpp"
#include "respaldo/core/file_io.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

using namespace crypto_detail;

namespace {

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

failure key_file_error(const std::string& path, const std::string& what) {
  return failure{make_error_code(errc::invalid_argument),
                 "secret key file \"" + path + "\": " + what};
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

}  // namespace

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

namespace {

using key_result = outcome<secret_box>;

// Reads the key from an open key file (and closes it): a regular file, 0600 or stricter.
key_result load_key_file(int fd, const std::string& path) {
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
  std::array<char, 2 * secret_box::key_size + 8> buf{};
  cleanse_guard wipe{buf.data(), buf.size()};
  std::size_t got = 0;
  int read_errno = 0;
  while (got < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) read_errno = errno;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  if (read_errno != 0) return key_file_error(path, "cannot read: " + errno_text(read_errno));
  auto key = parse_key(std::string_view(buf.data(), got));
  if (!key) {
    const std::string size = got == buf.size()
                                 ? "more than " + std::to_string(2 * secret_box::key_size + 2)
                                 : std::to_string(got);
    return key_file_error(path, "has " + size +
                                    " bytes that are not a key; expected 32 raw bytes or 64 "
                                    "hex digits with an optional newline");
  }
  secret_box box(*key);
  OPENSSL_cleanse(key->data(), key->size());
  return box;
}

// Writes a new random key to a file created exclusively (0600, fsynced); nullopt when another
// process created the file first.
outcome<std::optional<secret_box>> create_key_file(const std::string& path) {
  const int wfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (wfd < 0) {
    const int e = errno;
    if (e == EEXIST) return std::optional<secret_box>();
    return key_file_error(path, "cannot create: " + errno_text(e));
  }
  std::array<unsigned char, secret_box::key_size> key{};
  cleanse_guard wipe_key{key.data(), key.size()};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    ::close(wfd);
    ::unlink(path.c_str());
    openssl_failure("RAND_bytes");
  }
  std::string text = to_hex(key.data(), key.size()) + "\n";
  cleanse_guard wipe_text{text.data(), text.size()};
  // The umask may only have removed bits; set the exact mode all the same.
  int e = ::fchmod(wfd, 0600) == 0 ? 0 : errno;
  if (e == 0)
    if (auto written = write_fully(wfd, text.data(), text.size()); !written)
      e = written.error().code.value();
  if (e == 0 && ::fsync(wfd) != 0) e = errno;
  bool ok = e == 0;
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
  return std::optional<secret_box>(secret_box(key));
}

}  // namespace

outcome<secret_box> secret_box::load_or_create(const std::string& path, bool create_if_missing) {
  // Two rounds at most: when another process creates the file between our attempts, read theirs.
  for (int round = 0; round < 2; ++round) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return load_key_file(fd, path);
    const int open_errno = errno;
    if (open_errno != ENOENT) return key_file_error(path, "cannot open: " + errno_text(open_errno));
    if (!create_if_missing) return key_file_error(path, "does not exist");
    auto created = create_key_file(path);
    if (!created) return created.error();
    if (*created) return std::move(**created);
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

std::string secret_box::derive_key(std::string_view purpose) const {
  const std::string_view key(reinterpret_cast<const char*>(key_.data()), key_.size());
  return hmac_sha256_hex(key, "respaldo derived key\n" + std::string(purpose));
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

}  // namespace respaldo
