// The shared command-line grammar (cli/args): what is accepted and how each refusal is named.
#include "respaldo/cli/args.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using respaldo::cli::option_spec;
using respaldo::cli::parse_command_line;
using kind = respaldo::cli::usage_problem::kind;

namespace {

const std::vector<option_spec> options{
    {"--server", true}, {"--json", false}, {"--count", true, "-n"}, {"-o", true}};

auto parse(const std::vector<std::string>& args) {
  return parse_command_line(args, 0, options);
}

}  // namespace

TEST_CASE("command lines that parse", "[cli]") {
  SECTION("values, flags and positionals in any order") {
    const auto r = parse({"a", "--server", "http://x", "--json", "b", "-o", "out"});
    REQUIRE(r.has_value());
    CHECK(r->positional == std::vector<std::string>{"a", "b"});
    CHECK(*r->value("--server") == "http://x");
    CHECK(*r->value("-o") == "out");
    CHECK(r->flag("--json"));
    CHECK_FALSE(r->help);
    CHECK(r->value("--count") == nullptr);
  }
  SECTION("--name=value, an empty value and the short alias") {
    const auto r = parse({"--server=http://y", "-n", "3"});
    REQUIRE(r.has_value());
    CHECK(*r->value("--server") == "http://y");
    CHECK(*r->value("--count") == "3");
    const auto empty = parse({"--server="});
    REQUIRE(empty.has_value());
    CHECK(*empty->value("--server") == "");
  }
  SECTION("a value may start with a dash") {
    const auto r = parse({"-n", "-3", "--server", "--json"});
    REQUIRE(r.has_value());
    CHECK(*r->value("--count") == "-3");
    CHECK(*r->value("--server") == "--json");
    CHECK_FALSE(r->flag("--json"));
  }
  SECTION("-- ends the options; a lone - is positional") {
    const auto r = parse({"-", "--", "--json", "-n"});
    REQUIRE(r.has_value());
    CHECK(r->positional == std::vector<std::string>{"-", "--json", "-n"});
    CHECK_FALSE(r->flag("--json"));
  }
  SECTION("help anywhere") {
    CHECK(parse({"x", "--help"})->help);
    CHECK(parse({"-h", "x"})->help);
  }
  SECTION("parsing starts at `from`") {
    const auto r = parse_command_line({"list", "--json"}, 1, options);
    REQUIRE(r.has_value());
    CHECK(r->positional.empty());
    CHECK(r->flag("--json"));
  }
}

TEST_CASE("command lines that are refused name the option", "[cli]") {
  struct row {
    std::vector<std::string> args;
    kind what;
    const char* option;
    const char* message;
  };
  const row rows[] = {
      {{"--bogus"}, kind::unknown_option, "--bogus", "unknown option '--bogus'"},
      {{"x", "--bogus=1"}, kind::unknown_option, "--bogus", "unknown option '--bogus'"},
      {{"-x", "1"}, kind::unknown_option, "-x", "unknown option '-x'"},
      // No abbreviations.
      {{"--serv", "u"}, kind::unknown_option, "--serv", "unknown option '--serv'"},
      {{"--server"}, kind::missing_value, "--server", "option --server needs a value"},
      {{"--json", "-n"}, kind::missing_value, "-n", "option -n needs a value"},
      {{"-o"}, kind::missing_value, "-o", "option -o needs a value"},
      {{"--json=1"}, kind::unexpected_value, "--json", "option --json takes no value"},
      {{"-o", "a", "-o", "b"}, kind::repeated, "-o", "option -o given more than once"},
      {{"-n", "1", "--count", "2"},
       kind::repeated,
       "--count",
       "option --count given more than once"},
      {{"--server=a", "--server", "b"},
       kind::repeated,
       "--server",
       "option --server given more than once"},
  };
  for (const auto& r : rows) {
    std::string joined;
    for (const auto& a : r.args) joined += "[" + a + "]";
    INFO("args " << joined);
    const auto res = parse(r.args);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().what == r.what);
    CHECK(res.error().option == r.option);
    CHECK(res.error().message() == r.message);
  }
  SECTION("the whole argument is kept for messages that quote it") {
    const auto res = parse({"--bogus=1"});
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().token == "--bogus=1");
  }
  SECTION("the first problem wins") {
    const auto res = parse({"--bogus", "-o", "a", "-o", "b"});
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().what == kind::unknown_option);
  }
}
