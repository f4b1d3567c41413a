// Start-up chores of `respaldo serve` that touch the file system: the data directory and the
// admin token. Errors are outcomes whose messages are for the operator (they never contain the
// token): invalid_argument for a bad token, the OS error for a file system failure.
#pragma once

#include <string>
#include <string_view>

#include "respaldo/core/error.hpp"

namespace respaldo {

// Creates the data directory (mode 0700) if needed.
outcome<void> prepare_data_dir(const std::string& dir);

struct admin_token_source {
  std::string token;
  std::string origin;  // "file PATH", "environment RESPALDO_ADMIN_TOKEN", "generated PATH"
};

// --admin-token-file, else RESPALDO_ADMIN_TOKEN (env_value), else DATA_DIR/admin-token
// (generated with mode 0600 when missing).
outcome<admin_token_source> load_admin_token(const std::string& token_file,
                                             const std::string& env_value,
                                             const std::string& data_dir);

// The token of --metrics-token-file (16 to 4096 characters, trimmed), or "" without the flag.
outcome<std::string> load_metrics_token(const std::string& token_file);

// A token file of any kind (`what` names it in messages: "agent"): 16 to 4096 characters, trimmed.
outcome<std::string> load_token_file(const std::string& token_file, std::string_view what);

}  // namespace respaldo
