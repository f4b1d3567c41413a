// A cataloged backup: where its bytes are kept, their digests, and whether they can be trusted.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace respaldo {

using sys_seconds = std::chrono::sys_seconds;

// available: stored and confirmed (by storage's checksum or a verification); the only status
// retention counts. unverified: storage could not confirm its checksum, a verify job decides.
// corrupt: a verification read back other bytes than the catalog's; kept for inspection.
enum class backup_status { available, missing, deleting, corrupt, unverified };
std::string_view to_string(backup_status s);
std::optional<backup_status> parse_backup_status(std::string_view s);
inline bool is_good(backup_status s) {
  return s == backup_status::available;
}

enum class storage_kind { local, drive };
std::string_view to_string(storage_kind k);
std::optional<storage_kind> parse_storage_kind(std::string_view s);

// What a verification read back when it did not match the catalog (status corrupt).
struct backup_mismatch {
  sys_seconds detected_at{};
  std::uint64_t size = 0;
  std::string sha256;

  friend bool operator==(const backup_mismatch&, const backup_mismatch&) = default;
};

struct backup_record {
  std::string id;
  std::int64_t seq = 0;
  std::string app;
  std::string job_id;
  sys_seconds created_at{};
  std::uint64_t size = 0;
  std::string sha256;
  std::string md5;
  std::string format;
  storage_kind storage = storage_kind::local;
  std::string location;  // path relative to the backups dir, or Drive file id
  std::string name;
  std::string folder;  // drive_folder_id at the time of the backup
  backup_status status = backup_status::available;
  std::optional<sys_seconds> verified_at;
  std::optional<backup_mismatch> mismatch;  // set with status corrupt
  int delete_attempts = 0;
  std::string last_error;
};

}  // namespace respaldo
