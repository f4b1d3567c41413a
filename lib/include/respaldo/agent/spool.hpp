// The agent's spool directory: the dump files, the figures of the last successful run (for the
// capabilities' estimates and the free-space check) and the Range requests of a download. Small
// blocking helpers; the export service calls them off the io_context.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/core/error.hpp"

namespace respaldo {

struct last_run {
  std::uint64_t seconds = 0;
  std::uint64_t size = 0;
};

// SPOOL_DIR/last-run.json; nullopt when absent or unreadable (no estimate yet).
std::optional<last_run> load_last_run(const std::string& spool_dir);
outcome<void> save_last_run(const std::string& spool_dir, const last_run& run);

// Free space the next dump needs: 1.5 times the last one (nothing before a first run).
std::uint64_t spool_space_needed(const std::optional<last_run>& last);
// spool_full naming both figures when the spool's file system has less than `needed` free.
outcome<void> check_spool_space(const std::string& spool_dir, std::uint64_t needed);

// Creates the directory (0700) and removes dump files a previous run left; returns their count.
outcome<std::size_t> prepare_spool_dir(const std::string& spool_dir);
std::string spool_file_path(const std::string& spool_dir, std::string_view export_id);

// A `Range: bytes=...` header against a file of `size` bytes: one range, `first-`, `first-last`
// or `-suffix`. nullopt when the header is absent; errc::range_not_satisfiable for a range
// outside the file, errc::invalid_argument for a form this server does not take.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
outcome<std::optional<byte_range>> parse_range(std::optional<std::string_view> header,
                                               std::uint64_t size);

}  // namespace respaldo
