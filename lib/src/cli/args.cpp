// Program_options does the tokenizing; the walk over its result keeps today's rules and wording
// (first problem wins, repeated values refused, the option named as it was typed).
#include "respaldo/cli/args.hpp"

#include <algorithm>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/value_semantic.hpp>

namespace respaldo::cli {

namespace {

namespace po = boost::program_options;
namespace style = po::command_line_style;

constexpr const char* positional_key = "respaldo-positional";
// No guessing of abbreviations, no "-n5": only what the usage texts show.
constexpr int parse_style = style::allow_short | style::short_allow_next | style::allow_long |
                            style::long_allow_adjacent | style::long_allow_next |
                            style::allow_dash_for_short;

// "--server" -> "server", "-o" -> ",o", "--count" with alias "-n" -> "count,n".
std::string po_name(const option_spec& o) {
  std::string n = o.name.starts_with("--") ? std::string(o.name.substr(2))
                                           : "," + std::string(o.name.substr(1));
  if (!o.alias.empty()) n += "," + std::string(o.alias.substr(1));
  return n;
}

po::options_description describe(const std::vector<option_spec>& options) {
  po::options_description d;
  for (const auto& o : options) {
    const std::string n = po_name(o);
    if (o.takes_value)
      d.add_options()(n.c_str(), po::value<std::string>());
    else
      d.add_options()(n.c_str(), po::bool_switch());
  }
  d.add_options()("help,h", po::bool_switch());
  d.add_options()(positional_key, po::value<std::vector<std::string>>());
  return d;
}

// "--name=" becomes "--name" "": an empty value stays a value, as before.
std::vector<std::string> tokens_of(const std::vector<std::string>& args, std::size_t from) {
  std::vector<std::string> out;
  bool options_done = false;
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") options_done = true;
    if (!options_done && a.starts_with("--") && a.size() > 3 && a.back() == '=' &&
        a.find('=') == a.size() - 1) {
      out.push_back(a.substr(0, a.size() - 1));
      out.emplace_back();
    } else {
      out.push_back(a);
    }
  }
  return out;
}

std::string typed_name(const std::string& token) {
  const auto eq = token.find('=');
  return token.starts_with("--") && eq != std::string::npos ? token.substr(0, eq) : token;
}

std::string_view undashed(std::string_view s) {
  return s.substr(std::min(s.find_first_not_of('-'), s.size()));
}

// The spec of a Program_options key ("server", "-o") or reported name ("--server", "--o").
const option_spec* find_spec(const std::vector<option_spec>& options, std::string_view key) {
  const auto it = std::find_if(options.begin(), options.end(), [key](const option_spec& o) {
    return undashed(o.name) == undashed(key);
  });
  return it == options.end() ? nullptr : &*it;
}

// The spelling of the option whose value is missing: Program_options reports the long name, the
// message names what was typed (the first spelling followed by nothing or by another option).
std::string missing_value_name(const std::vector<option_spec>& options,
                               const std::vector<std::string>& tokens, const std::string& name) {
  const option_spec* spec = find_spec(options, name);
  if (!spec) return name;
  for (std::size_t i = 0; i < tokens.size() && tokens[i] != "--"; ++i) {
    if (tokens[i] != spec->name && (spec->alias.empty() || tokens[i] != spec->alias)) continue;
    if (i + 1 == tokens.size() || (tokens[i + 1].size() > 1 && tokens[i + 1][0] == '-'))
      return tokens[i];
  }
  return name;
}

failure refusal(errc code, const std::string& option, const std::string& subject) {
  std::string message;
  switch (code) {
    case errc::unknown_option:
      message = "unknown option '" + option + "'";
      break;
    case errc::missing_value:
      message = "option " + option + " needs a value";
      break;
    case errc::unexpected_value:
      message = "option " + option + " takes no value";
      break;
    default:
      message = "option " + option + " given more than once";
      break;
  }
  return failure{make_error_code(code), std::move(message), subject};
}

// A problem Program_options found while tokenizing, and the index of the token it is about (so
// that an earlier problem can win).
struct tokenizer_problem {
  failure what;
  std::size_t at;
};

std::size_t index_of(const std::vector<std::string>& tokens, std::string_view typed) {
  for (std::size_t i = 0; i < tokens.size() && tokens[i] != "--"; ++i)
    if (typed_name(tokens[i]) == typed) return i;
  return tokens.size();
}

tokenizer_problem from_exception(const po::error_with_option_name& e,
                                 const std::vector<option_spec>& options,
                                 const std::vector<std::string>& tokens) {
  const std::string name = e.get_option_name();
  if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&e)) {
    if (syntax->kind() == po::invalid_command_line_syntax::missing_parameter) {
      const std::string typed = missing_value_name(options, tokens, name);
      return {refusal(errc::missing_value, typed, typed), index_of(tokens, typed)};
    }
    if (syntax->kind() == po::invalid_command_line_syntax::extra_parameter)
      return {refusal(errc::unexpected_value, name, name), index_of(tokens, name)};
  }
  return {refusal(errc::unknown_option, name, name), index_of(tokens, name)};
}

// A short option with its value glued on ("-n5") is not in the grammar: only what the usage
// texts show.
bool typed_as_specified(const option_spec& spec, const std::string& token) {
  if (token.starts_with("--")) return true;
  return token == spec.name || token == spec.alias;
}

// Walks what Program_options recognised, in the order typed, applying the grammar's rules.
outcome<command_line> walk(const po::parsed_options& parsed,
                           const std::vector<option_spec>& options, grammar_rules rules) {
  command_line out;
  for (const po::option& o : parsed.options) {
    const std::string token = o.original_tokens.empty() ? o.string_key : o.original_tokens[0];
    if (o.string_key == positional_key && o.position_key >= 0) {
      std::string arg = o.value.empty() ? std::string() : o.value[0];
      if (!rules.positionals)
        return failure{make_error_code(errc::unknown_option), "unexpected argument '" + arg + "'",
                       arg};
      out.positional.push_back(std::move(arg));
      continue;
    }
    const option_spec* spec = o.unregistered ? nullptr : find_spec(options, o.string_key);
    if (o.string_key == "help" && !o.unregistered) {
      out.help = true;
      if (rules.help_ends_options) return out;
    } else if (!spec || !typed_as_specified(*spec, token)) {
      return refusal(errc::unknown_option, typed_name(token), token);
    } else if (!spec->takes_value) {
      out.flags.emplace(spec->name);
    } else if (out.values.count(spec->name)) {
      return refusal(errc::repeated_option, typed_name(token), token);
    } else {
      out.values.emplace(spec->name, o.value.empty() ? std::string() : o.value[0]);
    }
  }
  return out;
}

// Program_options' own verdict on `tokens`: what it recognised, or the problem it stopped at.
boost::system::result<po::parsed_options, tokenizer_problem> tokenize(
    const std::vector<std::string>& tokens, const po::options_description& desc,
    const std::vector<option_spec>& options) {
  po::positional_options_description positional;
  positional.add(positional_key, -1);
  try {
    return po::command_line_parser(tokens)
        .options(desc)
        .positional(positional)
        .style(parse_style)
        .allow_unregistered()
        .run();
  } catch (const po::error_with_option_name& e) {
    return from_exception(e, options, tokens);
  }
}

}  // namespace

outcome<command_line> parse_command_line(const std::vector<std::string>& args, std::size_t from,
                                         const std::vector<option_spec>& options,
                                         grammar_rules rules) {
  const po::options_description desc = describe(options);
  std::vector<std::string> tokens = tokens_of(args, from);
  auto parsed = tokenize(tokens, desc, options);
  if (parsed) return walk(*parsed, options, rules);
  // Program_options stops at its problem; what comes before it may hold an earlier one.
  tokenizer_problem problem = parsed.error();
  tokens.resize(std::min(problem.at, tokens.size()));
  auto before = tokenize(tokens, desc, options);
  if (!before) return std::move(before.error().what);
  auto earlier = walk(*before, options, rules);
  if (!earlier || (rules.help_ends_options && earlier->help)) return earlier;
  return std::move(problem.what);
}

}  // namespace respaldo::cli
