// The command-line grammar the client commands share: `--name VALUE`, `--name=VALUE`, bare flags,
// `--help`/`-h` anywhere, and `--` ending the options.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace respaldo::cli {

struct option_spec {
  std::string_view name;  // as typed: "--server", "-o"
  bool takes_value;
};

// What a command line holds once its options are known.
struct command_line {
  std::vector<std::string> positional;
  std::map<std::string, std::string, std::less<>> values;
  std::set<std::string, std::less<>> flags;
  bool help = false;

  const std::string* value(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  bool flag(std::string_view name) const { return flags.count(name) > 0; }
};

// Parses args[from...] against `options`; returns an error message naming the option, or "".
std::string parse_args(const std::vector<std::string>& args, std::size_t from,
                       const std::vector<option_spec>& options, command_line& out);

}  // namespace respaldo::cli
