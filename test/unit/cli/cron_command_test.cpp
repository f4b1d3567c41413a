// `respaldo cron next`, through its library entry point.
#include "respaldo/cli/cron_command.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "respaldo/core/time_format.hpp"

using respaldo::sys_seconds;

namespace {

struct cli_result {
  int code;
  std::string out;
  std::string err;
};

cli_result run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = respaldo::run_cron_command(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("respaldo cron next command", "[cron]") {
  SECTION("UTC output") {
    const auto r = run({"next", "0 3 * * *", "-n", "3", "--after", "2026-11-29T12:00:00Z"});
    CHECK(r.code == 0);
    CHECK(r.out == "2026-11-30T03:00:00Z\n2026-12-01T03:00:00Z\n2026-12-02T03:00:00Z\n");
    CHECK(r.err.empty());
  }
  SECTION("local output with --tz, across the gap") {
    const auto r = run({"next", "30 2 * * *", "--tz", "Europe/Berlin", "-n", "3", "--after",
                        "2026-03-27T12:00:00Z"});
    CHECK(r.code == 0);
    CHECK(r.out ==
          "2026-03-28T02:30:00+01:00\n2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n");
    CHECK(r.err.empty());
  }
  SECTION("--flag=value forms, an offset in --after and macros") {
    const auto r = run({"next", "@monthly", "--count=2", "--after=2026-01-31T23:30:00-01:00",
                        "--tz=America/New_York"});
    CHECK(r.code == 0);
    CHECK(r.out == "2026-02-01T00:00:00-05:00\n2026-03-01T00:00:00-05:00\n");
  }
  SECTION("default count is 5, default start is now") {
    const auto r = run({"next", "* * * * *"});
    CHECK(r.code == 0);
    std::istringstream lines(r.out);
    std::string line;
    std::vector<sys_seconds> times;
    while (std::getline(lines, line)) {
      const auto t = respaldo::parse_rfc3339(line);
      REQUIRE(t.has_value());
      CHECK(line.back() == 'Z');
      times.push_back(*t);
    }
    REQUIRE(times.size() == 5);
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    CHECK(times.front() > now - std::chrono::minutes{2});
    CHECK(times.front() <= now + std::chrono::minutes{1});
    CHECK(times.back() - times.front() == std::chrono::minutes{4});
  }
  SECTION("help") {
    const auto r = run({"next", "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("usage: respaldo cron next EXPR") != std::string::npos);
    CHECK(run({"--help"}).code == 0);
    // --help ends the options: what follows it is not checked, what precedes it is.
    const auto later = run({"next", "--help", "--bogus", "-n"});
    CHECK(later.code == 0);
    CHECK(later.out.find("usage: respaldo cron next EXPR") != std::string::npos);
    const auto before = run({"next", "--bogus", "--help"});
    CHECK(before.code == 2);
    CHECK(before.err.find("unknown option '--bogus'") != std::string::npos);
    const auto glued = run({"next", "@daily", "-n5"});
    CHECK(glued.code == 2);
    CHECK(glued.err.find("unknown option '-n5'") != std::string::npos);
  }
  SECTION("usage errors exit 2 and name the problem") {
    struct row {
      std::vector<std::string> args;
      const char* needle;
    };
    const row rows[] = {
        {{}, "missing subcommand"},
        {{"list"}, "unknown subcommand 'list'"},
        {{"next"}, "missing cron expression"},
        {{"next", "0", "3", "*", "*", "*"}, "expected one EXPR argument, got 5"},
        {{"next", "0 3 * * *", "--bogus"}, "unknown option '--bogus'"},
        {{"next", "0 3 * * *", "--bogus=1"}, "unknown option '--bogus'"},
        {{"next", "0 3 * * *", "-x", "1"}, "unknown option '-x'"},
        {{"next", "0 3 * * *", "-n"}, "option -n needs a value"},
        {{"next", "0 3 * * *", "-n", "0"}, "-n: expected a whole number 1-10000, got '0'"},
        {{"next", "0 3 * * *", "-n", "ten"}, "-n: expected a whole number 1-10000, got 'ten'"},
        {{"next", "0 3 * * *", "-n", "10001"}, "-n: expected a whole number 1-10000"},
        {{"next", "0 3 * * *", "-n", "-3"}, "-n: expected a whole number 1-10000, got '-3'"},
        {{"next", "0 3 * * *", "-n", "1", "-n", "2"}, "option -n given more than once"},
        {{"next", "0 3 * * *", "--after", "yesterday"}, "--after: expected an RFC 3339 time"},
        {{"next", "0 3 * * *", "--after", "2026-01-01T00:00:00"}, "--after"},
        {{"next", "0 3 * * *", "--tz", "Mars/Base"}, "--tz: unknown time zone 'Mars/Base'"},
        {{"next", "0 3 * * *", "--tz"}, "option --tz needs a value"},
        {{"next", "0 24 * * *"}, "field 2 (hour): value 24 out of range 0-23"},
        {{"next", "* * * *"}, "got 4"},
        {{"next", "0 0 30 2 *"}, "never fires"},
    };
    for (const auto& r : rows) {
      std::string joined;
      for (const auto& a : r.args) joined += "[" + a + "]";
      INFO("args " << joined);
      const auto res = run(r.args);
      CHECK(res.code == 2);
      CHECK(res.out.empty());
      CHECK(res.err.find(r.needle) != std::string::npos);
    }
  }
  SECTION("malformed command lines repeat the usage, bad values do not") {
    CHECK(run({"next", "0 3 * * *", "--bogus"}).err.find("usage:") != std::string::npos);
    const auto bad_value = run({"next", "0 24 * * *"});
    CHECK(bad_value.err ==
          "respaldo cron: invalid cron expression '0 24 * * *': field 2 (hour): "
          "value 24 out of range 0-23\n");
  }
}
