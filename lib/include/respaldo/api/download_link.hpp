// Signed download links: POST /api/backups/{id}/download-url hands out
// /api/backups/{id}/content?sig=EXPIRES.HMAC, which a browser or curl fetches without the admin
// header. The HMAC-SHA256 covers the backup id and the expiry, under a key derived from the
// server's secret key (links survive a restart), and is compared in constant time. Sans-io: no
// clock of its own.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace respaldo {

enum class link_verdict { valid, malformed, wrong, expired };

class download_signer {
 public:
  // `key`: at least 32 random bytes.
  explicit download_signer(std::string key);

  // "EXPIRES.HEX": the expiry in Unix seconds, then the HMAC of "backup-content\n" id "\n" expiry.
  std::string sign(std::string_view backup_id, std::chrono::sys_seconds expires) const;
  // The signature is checked before the expiry, so a forged link learns nothing from the answer.
  link_verdict check(std::string_view backup_id, std::string_view sig,
                     std::chrono::sys_seconds now) const;

 private:
  std::string key_;
};

}  // namespace respaldo
