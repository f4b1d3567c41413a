// The shared command-line grammar (cli/args): what is accepted and how each refusal is named.
#include "respaldo/cli/args.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using respaldo::errc;
using respaldo::cli::grammar_rules;
using respaldo::cli::option_spec;
using respaldo::cli::parse_command_line;

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
    errc what;
    const char* subject;
    const char* message;
  };
  const row rows[] = {
      {{"--bogus"}, errc::unknown_option, "--bogus", "unknown option '--bogus'"},
      {{"x", "--bogus=1"}, errc::unknown_option, "--bogus=1", "unknown option '--bogus'"},
      {{"-x", "1"}, errc::unknown_option, "-x", "unknown option '-x'"},
      // No abbreviations.
      {{"--serv", "u"}, errc::unknown_option, "--serv", "unknown option '--serv'"},
      {{"--server"}, errc::missing_value, "--server", "option --server needs a value"},
      {{"--json", "-n"}, errc::missing_value, "-n", "option -n needs a value"},
      {{"-o"}, errc::missing_value, "-o", "option -o needs a value"},
      {{"--json=1"}, errc::unexpected_value, "--json", "option --json takes no value"},
      {{"-o", "a", "-o", "b"}, errc::repeated_option, "-o", "option -o given more than once"},
      {{"-n", "1", "--count", "2"},
       errc::repeated_option,
       "--count",
       "option --count given more than once"},
      {{"--server=a", "--server", "b"},
       errc::repeated_option,
       "--server",
       "option --server given more than once"},
  };
  for (const auto& r : rows) {
    std::string joined;
    for (const auto& a : r.args) joined += "[" + a + "]";
    INFO("args " << joined);
    const auto res = parse(r.args);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == r.what);
    CHECK(res.error().subject == r.subject);
    CHECK(res.error().message == r.message);
  }
  SECTION("the whole argument is kept for messages that quote it") {
    const auto res = parse({"--bogus=1"});
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().subject == "--bogus=1");
  }
  SECTION("the first problem in the order typed wins") {
    struct first {
      std::vector<std::string> args;
      const char* message;
    };
    const first lines[] = {
        {{"--bogus", "-o", "a", "-o", "b"}, "unknown option '--bogus'"},
        {{"--bogus", "--server"}, "unknown option '--bogus'"},
        {{"-o", "a", "-o", "b", "--server"}, "option -o given more than once"},
        {{"--bogus", "--json=1"}, "unknown option '--bogus'"},
        {{"--json=1", "--bogus"}, "option --json takes no value"},
        {{"--server"}, "option --server needs a value"},
        {{"--json", "--server"}, "option --server needs a value"},
    };
    for (const auto& l : lines) {
      INFO(l.message);
      const auto res = parse(l.args);
      REQUIRE_FALSE(res.has_value());
      CHECK(res.error().message == l.message);
    }
  }
  SECTION("a short option's value is a separate argument") {
    const auto res = parse({"-n5"});
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == errc::unknown_option);
    CHECK(res.error().message == "unknown option '-n5'");
  }
}

TEST_CASE("grammar rules of cron and retention", "[cli]") {
  const grammar_rules help_ends{.help_ends_options = true};
  SECTION("by default a problem after --help refuses the line") {
    CHECK_FALSE(parse({"--help", "--bogus"}).has_value());
    CHECK_FALSE(parse({"--help", "--server"}).has_value());
  }
  SECTION("--help can end the options") {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--help", "--bogus"}, {"-h", "--server"}, {"x", "--help", "--json=1"}}) {
      const auto res = parse_command_line(args, 0, options, help_ends);
      REQUIRE(res.has_value());
      CHECK(res->help);
    }
    const auto before = parse_command_line({"--bogus", "--help"}, 0, options, help_ends);
    REQUIRE_FALSE(before.has_value());
    CHECK(before.error().message == "unknown option '--bogus'");
  }
  SECTION("positionals can be refused where they stand") {
    const grammar_rules none{.positionals = false};
    const auto res = parse_command_line({"--json", "extra", "--bogus"}, 0, options, none);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == errc::unknown_option);
    CHECK(res.error().subject == "extra");
    CHECK(res.error().message == "unexpected argument 'extra'");
    CHECK(parse_command_line({"--json"}, 0, options, none).has_value());
  }
}
