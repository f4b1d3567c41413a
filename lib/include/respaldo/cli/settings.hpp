// What every client command shares: the common options, where the server and the token come
// from, and the shape of usage messages.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/cli/args.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo::cli {

struct client_settings {
  http_origin origin;
  std::string prefix;   // path of the server URL without the trailing '/', usually ""
  std::string display;  // scheme, host, port and prefix, for messages
  std::string token;    // never printed
  std::shared_ptr<tls_context> tls;
  bool json = false;
};

// The options every client command takes (--server, --token-file, --ca-file, --json).
const std::vector<option_spec>& common_options();

// The usage text of `command` and the help text that follows it.
const char* usage_of(std::string_view command);
extern const char* const common_help;

// A malformed command line: the message, then the usage. Returns client_exit_usage.
int usage_error(std::ostream& err, std::string_view command, const std::string& message);
// A wrong value (a file that cannot be read, a malformed URL): the message alone.
int value_error(std::ostream& err, std::string_view command, const std::string& message);

// Parses a subcommand's arguments and checks it got exactly `positionals` positional arguments
// (`missing` names the first one for the message). Returns the exit code when the command ends
// here: help printed, or a usage error.
std::optional<int> parse_command(const std::vector<std::string>& args, std::size_t from,
                                 const std::vector<option_spec>& extra, std::size_t positionals,
                                 std::string_view command, std::string_view missing,
                                 command_line& a, std::ostream& out, std::ostream& err);

// Reads a whole file, at most `limit` bytes; the failure says why (never what the file holds).
outcome<std::string> read_text_file(const std::string& path, std::size_t limit);

// Fills `s` from the common options and the environment; returns 0, or the exit status after
// printing why.
int load_settings(const command_line& a, std::string_view command, client_settings& s,
                  std::ostream& err);

}  // namespace respaldo::cli
