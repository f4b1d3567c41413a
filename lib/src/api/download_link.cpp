#include "respaldo/api/download_link.hpp"

#include <charconv>

#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

namespace {

std::string signed_text(std::string_view backup_id, std::string_view expires) {
  std::string s = "backup-content\n";
  s += backup_id;
  s += '\n';
  s += expires;
  return s;
}

}  // namespace

download_signer::download_signer(std::string key) : key_(std::move(key)) {}

std::string download_signer::sign(std::string_view backup_id,
                                  std::chrono::sys_seconds expires) const {
  const std::string e = std::to_string(expires.time_since_epoch().count());
  return e + "." + hmac_sha256_hex(key_, signed_text(backup_id, e));
}

link_verdict download_signer::check(std::string_view backup_id, std::string_view sig,
                                    std::chrono::sys_seconds now) const {
  const auto dot = sig.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19 || sig.size() - dot - 1 != 64)
    return link_verdict::malformed;
  const auto expires = sig.substr(0, dot);
  std::int64_t at = 0;
  auto [p, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), at);
  if (ec != std::errc{} || p != expires.data() + expires.size() || at < 0)
    return link_verdict::malformed;
  const std::string expected = hmac_sha256_hex(key_, signed_text(backup_id, expires));
  if (!constant_time_equal(sig.substr(dot + 1), expected)) return link_verdict::wrong;
  if (now.time_since_epoch().count() >= at) return link_verdict::expired;
  return link_verdict::valid;
}

}  // namespace respaldo
