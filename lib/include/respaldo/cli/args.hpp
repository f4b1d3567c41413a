// The command-line grammar every subcommand shares, on Boost.Program_options: `--name VALUE`,
// `--name=VALUE`, bare flags, `--help`/`-h` anywhere, `--` ending the options. No abbreviations,
// no option given twice. The usage texts stay hand-written: they are part of the interface.
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace respaldo::cli {

struct option_spec {
  std::string_view name;  // as typed and as looked up: "--server", "-o"
  bool takes_value;
  std::string_view alias = {};  // a short spelling of the same option ("-n" for "--count")
};

// What a command line holds once its options are known; values and flags are keyed by the
// option's name.
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

// Why a command line was refused. Commands word it their own way, so it stays data.
struct usage_problem {
  enum class kind { unknown_option, missing_value, unexpected_value, repeated };
  kind what;
  std::string option;  // as typed, without "=value": "--bogus", "-n"
  std::string token;   // the whole argument: "--bogus=1"

  // The wording of the client commands and `cron`: "unknown option '--bogus'",
  // "option -n needs a value", "option --json takes no value", "option --tz given more than once".
  std::string message() const;
};

// Parses args[from...] against `options` (plus --help/-h); stops at the first problem.
boost::system::result<command_line, usage_problem> parse_command_line(
    const std::vector<std::string>& args, std::size_t from,
    const std::vector<option_spec>& options);

}  // namespace respaldo::cli
