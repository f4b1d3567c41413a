// A restore drill: a backup restored into a scratch target (`respaldo drill`) and checked, as the
// drill reported it to the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace respaldo {

enum class drill_target { postgres, mariadb, directory };

inline std::string_view to_string(drill_target t) {
  switch (t) {
    case drill_target::postgres:
      return "postgres";
    case drill_target::mariadb:
      return "mariadb";
    case drill_target::directory:
      return "directory";
  }
  return "directory";
}

inline std::optional<drill_target> parse_drill_target(std::string_view s) {
  for (auto t : {drill_target::postgres, drill_target::mariadb, drill_target::directory})
    if (to_string(t) == s) return t;
  return std::nullopt;
}

struct drill_record {
  std::int64_t seq = 0;
  std::string id;
  std::string backup_id;
  std::string app;
  drill_target target = drill_target::directory;
  bool passed = false;
  std::chrono::sys_seconds reported_at{};
  std::int64_t duration_ms = 0;
  std::uint64_t tables = 0;   // tables restored and read (databases)
  std::uint64_t rows = 0;     // their rows
  std::uint64_t entries = 0;  // files and directories restored (directory)
  std::string error;          // why it failed; empty when passed

  friend bool operator==(const drill_record&, const drill_record&) = default;
};

}  // namespace respaldo
