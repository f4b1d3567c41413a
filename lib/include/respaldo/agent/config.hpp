// Options of `respaldo agent`: flags, RESPALDO_AGENT_* environment variables and an optional
// config file (`key = value` lines, same names as the flags), in that order of precedence.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace respaldo {

enum class agent_source { command, tar, postgres, mariadb };
enum class agent_mode { deferred, stream };

std::string_view to_string(agent_source s) noexcept;
std::optional<agent_source> parse_agent_source(std::string_view s) noexcept;

struct agent_config {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8000;
  std::string token;  // from --token-file or RESPALDO_AGENT_TOKEN; never logged
  std::string token_origin;
  agent_source source = agent_source::command;
  std::string command;             // --source command
  std::vector<std::string> paths;  // --source tar
  std::vector<std::string> excludes;
  std::string pg_url;  // --source postgres; empty: the PG* environment
  // --source mariadb: an option file ([client] host, port, user, password) and the database
  std::string mariadb_defaults_file;
  std::string database;  // empty: --all-databases
  std::string format;    // X-Format; defaults per source
  std::string spool_dir = "/var/spool/respaldo-agent";
  std::chrono::milliseconds timeout{6 * 3600'000};  // longest one dump may run
  agent_mode mode = agent_mode::deferred;
  std::chrono::milliseconds spool_ttl{6 * 3600'000};  // an uncollected spool is removed after it
  std::string log_format = "text";
  std::string log_level = "info";
  std::chrono::milliseconds request_timeout{30'000};
};

struct agent_parse_outcome {
  std::optional<agent_config> config;
  std::string message;
  int exit_code = 0;
};

// RESPALDO_AGENT_<OPTION> variables come from the process environment; `env` looks up
// RESPALDO_AGENT_TOKEN (a map in tests).
agent_parse_outcome parse_agent_config(const std::vector<std::string>& args,
                                       const std::function<const char*(const char*)>& env);

}  // namespace respaldo
