// Start-up chores of `respaldo serve` that touch the file system: the data directory and the
// admin token. Errors are messages for the operator (they never contain the token).
#pragma once

#include <boost/system/result.hpp>
#include <string>

namespace respaldo {

// Creates the data directory (mode 0700) if needed.
boost::system::result<void, std::string> prepare_data_dir(const std::string& dir);

struct admin_token_source {
  std::string token;
  std::string origin;  // "file PATH", "environment RESPALDO_ADMIN_TOKEN", "generated PATH"
};

// --admin-token-file, else RESPALDO_ADMIN_TOKEN (env_value), else DATA_DIR/admin-token
// (generated with mode 0600 when missing).
boost::system::result<admin_token_source, std::string> load_admin_token(
    const std::string& token_file, const std::string& env_value, const std::string& data_dir);

}  // namespace respaldo
