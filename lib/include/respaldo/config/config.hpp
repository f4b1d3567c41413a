// Options of `respaldo serve`: flags, RESPALDO_* environment variables and an optional config file
// (`key = value` lines, same names as the flags), in that order of precedence.
#pragma once

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/core/time_format.hpp"
#include "respaldo/http/client/address_policy.hpp"

namespace respaldo {

struct serve_config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::string data_dir = "./var";
  std::string admin_token_file;
  std::string admin_token;         // from RESPALDO_ADMIN_TOKEN or the file; never logged
  std::string secret_key_file;     // default DATA_DIR/secret.key
  std::string metrics_token_file;  // empty: /metrics is open
  std::string log_format = "text";
  std::string log_level = "info";

  // jobs
  std::string storage = "local";
  std::size_t chunk_size = 8 * 1024 * 1024;
  unsigned max_concurrent_jobs = 4;
  unsigned hash_threads = 1;
  bool drive_md5 =
      false;  // --drive-md5  // --hash-threads (auto: the machine's cores; 0: the io thread)
  unsigned max_attempts = 3;
  std::chrono::milliseconds retry_base_delay{5'000};
  std::chrono::milliseconds retry_max_delay{300'000};
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds read_timeout{60'000};
  std::chrono::milliseconds job_deadline{6 * 3600'000};
  std::chrono::milliseconds deferred_poll_max{60'000};
  std::chrono::milliseconds progress_interval{500};
  std::uint64_t max_backup_size = 5ull << 40;  // 5 TiB, Drive's own limit for one file

  // scheduling and probes
  std::string timezone = "UTC";
  std::chrono::milliseconds schedule_jitter{0};
  std::chrono::milliseconds probe_interval{300'000};

  // Google Drive
  std::string drive_credentials;
  std::string drive_impersonate;
  std::string drive_api_url = "https://www.googleapis.com";
  std::string drive_token_url;  // default: the credentials' token_uri or Google's
  std::string ca_file;

  // where app connections may go (see http/client/address_policy.hpp)
  std::vector<std::string> allowed_download_origins;  // "host" or "host:port", lower-case
  std::vector<ip_network> app_networks;               // empty: any

  // notifications
  std::string public_url;  // empty: http://<listen address>
  std::chrono::milliseconds notify_retry_base{30'000};
  std::chrono::milliseconds notify_retry_max{3600'000};
  std::chrono::milliseconds notify_timeout{10'000};
  std::size_t notify_max_pending = 10'000;

  // HTTP server
  std::size_t max_body_bytes = 1024 * 1024;
  unsigned max_connections_per_client = 64;
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};

  // live events (GET /api/events)
  std::chrono::milliseconds events_heartbeat{15'000};
  std::size_t max_event_streams = 32;
  std::chrono::milliseconds download_link_ttl{300'000};
};

// Outcome of parsing a command line: either a configuration, or text to print and an exit code
// (help: 0 on stdout; errors: 2 on stderr, naming the flag).
struct parse_outcome {
  std::optional<serve_config> config;
  std::string message;
  int exit_code = 0;
};

// Reads RESPALDO_* variables from the process environment.
parse_outcome parse_serve_config(const std::vector<std::string>& args);

// "8MiB", "262144", "256KiB", "1GiB".
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

}  // namespace respaldo
