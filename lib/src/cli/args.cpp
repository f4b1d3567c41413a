#include "respaldo/cli/args.hpp"

#include <optional>

namespace respaldo::cli {

std::string parse_args(const std::vector<std::string>& args, std::size_t from,
                       const std::vector<option_spec>& options, command_line& out) {
  bool options_done = false;
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      out.help = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> inline_value;
    if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    const option_spec* spec = nullptr;
    for (const auto& o : options)
      if (o.name == name) spec = &o;
    if (!spec) return "unknown option '" + name + "'";
    if (!spec->takes_value) {
      if (inline_value) return "option " + name + " takes no value";
      out.flags.insert(name);
      continue;
    }
    if (out.values.count(name)) return "option " + name + " given more than once";
    if (inline_value) {
      out.values[name] = *inline_value;
    } else if (i + 1 < args.size()) {
      out.values[name] = args[++i];
    } else {
      return "option " + name + " needs a value";
    }
  }
  return "";
}

}  // namespace respaldo::cli
