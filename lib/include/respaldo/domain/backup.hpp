// A cataloged backup: where its bytes are kept, their digests, and whether they are still there.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace respaldo {

using sys_seconds = std::chrono::sys_seconds;

enum class backup_status { available, missing, deleting };
std::string_view to_string(backup_status s);
std::optional<backup_status> parse_backup_status(std::string_view s);

enum class storage_kind { local, drive };
std::string_view to_string(storage_kind k);
std::optional<storage_kind> parse_storage_kind(std::string_view s);

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
  int delete_attempts = 0;
  std::string last_error;
};

}  // namespace respaldo
