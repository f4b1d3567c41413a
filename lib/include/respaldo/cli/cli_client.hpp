// Client commands of the respaldo binary (`apps`, `backup`, `jobs`, `restore`): they talk to a
// running `respaldo serve` over its REST API, for people (short tables and lines) and for CI
// pipelines (`--json`, exit statuses).
//
// Every command takes `--server URL` (default: RESPALDO_SERVER, else http://127.0.0.1:8080),
// `--token-file FILE` (default: the RESPALDO_ADMIN_TOKEN variable) and `--ca-file FILE` (extra
// trusted CAs for https). The token is never printed.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace respaldo {

// Exit statuses of the client commands.
inline constexpr int client_exit_ok = 0;
// The server refused (problem+json), could not be reached, the job failed or was cancelled, or
// a restored file did not match its size or checksum.
inline constexpr int client_exit_failed = 1;
// A wrong flag or value; the message names it.
inline constexpr int client_exit_usage = 2;
// `backup --wait --timeout` expired before the job finished (it keeps running on the server).
inline constexpr int client_exit_timeout = 3;

// Whether `command` is one of the client commands.
bool is_client_command(std::string_view command);

// Runs `respaldo <command> <args...>`; output goes to `out`, diagnostics to `err` (and
// `apps register --file -` reads the standard input). Returns the exit status.
int run_client_command(const std::string& command, const std::vector<std::string>& args,
                       std::ostream& out, std::ostream& err);

}  // namespace respaldo
