// The command-line grammar every subcommand shares, on Boost.Program_options: `--name VALUE`,
// `--name=VALUE`, bare flags, `--help`/`-h` anywhere, `--` ending the options. No abbreviations,
// no option given twice. The usage texts stay hand-written: they are part of the interface.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/core/error.hpp"

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

// Where a command's grammar departs from the client commands' (the defaults).
struct grammar_rules {
  // --help ends the options, so a problem after it does not count (`cron`, `retention`); by
  // default any problem on the line wins over --help.
  bool help_ends_options = false;
  // Whether positional arguments are taken; if not, the first one is refused where it stands,
  // as an unknown option whose subject is the argument.
  bool positionals = true;
};

// Parses args[from...] against `options` (plus --help/-h); stops at the first problem in the
// order typed. A refusal's code is errc::unknown_option, missing_value, unexpected_value or
// repeated_option; its message is the shared wording ("unknown option '--bogus'", "option -n needs
// a value", "option --json takes no value", "option --tz given more than once"); its subject is
// the option as typed ("--tz", "-n"), or for an unknown option the whole argument ("--bogus=1"),
// which some commands quote.
outcome<command_line> parse_command_line(const std::vector<std::string>& args, std::size_t from,
                                         const std::vector<option_spec>& options,
                                         grammar_rules rules = {});

}  // namespace respaldo::cli
