// SHA-256 and MD5 through EVP, and hex digests.
#include <array>

#include "openssl_util.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

using namespace crypto_detail;

void detail::md_ctx_deleter::operator()(evp_md_ctx_st* p) const noexcept {
  EVP_MD_CTX_free(p);
}

namespace {

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

const EVP_MD* evp_of(digest_algorithm a) {
  return a == digest_algorithm::sha256 ? EVP_sha256() : EVP_md5();
}

}  // namespace

// --- digests -----------------------------------------------------------------------------------

template <digest_algorithm A>
basic_digest<A>::basic_digest() : ctx_(new_md_ctx(evp_of(A))) {}

template <digest_algorithm A>
void basic_digest<A>::update(const void* data, std::size_t n) {
  md_update(ctx_, evp_of(A), data, n);
}

template <digest_algorithm A>
std::array<unsigned char, basic_digest<A>::digest_size> basic_digest<A>::finish() {
  return md_finish<digest_size>(ctx_, evp_of(A));
}

template <digest_algorithm A>
std::string basic_digest<A>::finish_hex() {
  const auto d = finish();
  return to_hex(d.data(), d.size());
}

template class basic_digest<digest_algorithm::sha256>;
template class basic_digest<digest_algorithm::md5>;

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

}  // namespace respaldo
