// `respaldo retention plan`, through its library entry point.
#include "respaldo/cli/retention_command.hpp"

#include <date/date.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

date::sys_days day(int y, unsigned m, unsigned d) {
  return date::sys_days{date::year{y} / date::month{m} / date::day{d}};
}

struct cli_result {
  int code;
  std::string out, err;
};

cli_result run_cli(const std::vector<std::string>& args, const std::string& input) {
  std::istringstream in(input);
  std::ostringstream out, err;
  const int code = respaldo::run_retention_command(args, in, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("retention plan command", "[retention]") {
  const std::vector<std::string> args{"plan", "--policy", R"({"daily":2,"weekly":2})"};

  SECTION("output format, input order, timestamps as given") {
    const auto r = run_cli(args,
                           "2025-06-18T02:00:00Z\n"
                           "2025-06-10T02:00:00Z\n"
                           "2025-06-17T04:00:00+02:00\n"
                           "2025-06-16T02:00:00.123456Z\n"
                           "2025-06-15T02:00:00Z\n"
                           "2025-06-17T01:00:00Z\n");
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK(r.out ==
          "keep 2025-06-18T02:00:00Z newest daily:2025-06-18 weekly:2025-W25\n"
          "delete 2025-06-10T02:00:00Z\n"
          "keep 2025-06-17T04:00:00+02:00 daily:2025-06-17\n"
          "delete 2025-06-16T02:00:00.123456Z\n"
          "keep 2025-06-15T02:00:00Z weekly:2025-W24\n"
          "delete 2025-06-17T01:00:00Z\n");
  }
  SECTION("the issue example through the command") {
    std::string input;
    for (auto d = day(2025, 1, 1); d <= day(2025, 6, 18); d += date::days{1})
      input += date::format("%FT02:00:00Z\n", d);
    const auto r = run_cli({"plan", "--policy", R"({"daily":7,"weekly":4})"}, input);
    REQUIRE(r.code == 0);
    std::istringstream lines(r.out);
    std::string line;
    std::vector<std::string> keeps;
    int count = 0;
    while (std::getline(lines, line)) {
      ++count;
      if (line.starts_with("keep ")) keeps.push_back(line);
    }
    CHECK(count == 169);
    CHECK(keeps == std::vector<std::string>{
                       "keep 2025-06-01T02:00:00Z weekly:2025-W22",
                       "keep 2025-06-08T02:00:00Z weekly:2025-W23",
                       "keep 2025-06-12T02:00:00Z daily:2025-06-12",
                       "keep 2025-06-13T02:00:00Z daily:2025-06-13",
                       "keep 2025-06-14T02:00:00Z daily:2025-06-14",
                       "keep 2025-06-15T02:00:00Z daily:2025-06-15 weekly:2025-W24",
                       "keep 2025-06-16T02:00:00Z daily:2025-06-16",
                       "keep 2025-06-17T02:00:00Z daily:2025-06-17",
                       "keep 2025-06-18T02:00:00Z newest daily:2025-06-18 weekly:2025-W25",
                   });
  }
  SECTION("--tz and the --flag=value form") {
    const std::string input = "2025-06-15T12:00:00Z\n2025-06-16T23:30:00Z\n2025-06-17T02:00:00Z\n";
    const auto utc = run_cli({"plan", R"(--policy={"daily":2})"}, input);
    CHECK(utc.code == 0);
    CHECK(utc.out ==
          "delete 2025-06-15T12:00:00Z\n"
          "keep 2025-06-16T23:30:00Z daily:2025-06-16\n"
          "keep 2025-06-17T02:00:00Z newest daily:2025-06-17\n");
    const auto berlin =
        run_cli({"plan", "--tz", "Europe/Berlin", "--policy", R"({"daily":2})"}, input);
    CHECK(berlin.code == 0);
    CHECK(berlin.out ==
          "keep 2025-06-15T12:00:00Z daily:2025-06-15\n"
          "delete 2025-06-16T23:30:00Z\n"
          "keep 2025-06-17T02:00:00Z newest daily:2025-06-17\n");
  }
  SECTION("blank lines and surrounding spaces are skipped, CRLF accepted") {
    const auto r = run_cli(args, "\n  2025-06-18t02:00:00z \r\n\r\n2025-06-17T02:00:00-00:30\n");
    CHECK(r.code == 0);
    CHECK(r.out ==
          "keep 2025-06-18t02:00:00z newest daily:2025-06-18 weekly:2025-W25\n"
          "keep 2025-06-17T02:00:00-00:30 daily:2025-06-17\n");
  }
  SECTION("a leap second stays in its day") {
    const auto r = run_cli({"plan", "--policy", R"({"daily":2})"},
                           "2016-12-31T23:59:60Z\n2017-01-01T00:00:00Z\n2016-12-31T12:00:00Z\n");
    CHECK(r.code == 0);
    CHECK(r.out ==
          "keep 2016-12-31T23:59:60Z daily:2016-12-31\n"
          "keep 2017-01-01T00:00:00Z newest daily:2017-01-01\n"
          "delete 2016-12-31T12:00:00Z\n");
  }
  SECTION("equal timestamps: the later line is the newer") {
    const auto r = run_cli({"plan", "--policy", R"({"last":1})"},
                           "2025-06-18T02:00:00Z\n2025-06-18T04:00:00+02:00\n");
    CHECK(r.out ==
          "delete 2025-06-18T02:00:00Z\n"
          "keep 2025-06-18T04:00:00+02:00 newest last:1\n");
  }
  SECTION("empty input prints nothing") {
    const auto r = run_cli(args, "");
    CHECK(r.code == 0);
    CHECK(r.out.empty());
  }
  SECTION("a bad timestamp line names the line and prints no plan") {
    for (const char* bad :
         {"yesterday", "2025-06-17", "2025-06-17T02:00:00", "2025-02-30T02:00:00Z",
          "2025-06-17T24:00:00Z", "2025-06-17T02:00:00+2:00", "2025-06-17T02:00:00.Z",
          "2025-06-17T02:00:00Zjunk"}) {
      INFO(bad);
      const auto r = run_cli(args, std::string("2025-06-18T02:00:00Z\n\n") + bad + "\n");
      CHECK(r.code == 2);
      CHECK(r.out.empty());
      CHECK(r.err ==
            std::string("retention plan: line 3: not an RFC 3339 timestamp: \"") + bad + "\"\n");
    }
  }
  SECTION("missing --policy") {
    const auto r = run_cli({"plan"}, "2025-06-18T02:00:00Z\n");
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::StartsWith("retention plan: missing --policy"));
    const auto r2 = run_cli({"plan", "--tz", "UTC", "--policy"}, "");
    CHECK(r2.code == 2);
    CHECK_THAT(r2.err, Catch::StartsWith("retention plan: --policy needs a value"));
  }
  SECTION("bad policies name --policy and the field") {
    const auto r = run_cli({"plan", "--policy", R"({"daily":-1})"}, "");
    CHECK(r.code == 2);
    CHECK(r.err ==
          "retention plan: --policy: retention policy: \"daily\" must be an integer from 0 to "
          "10000, got -1\n");
    const auto r2 = run_cli({"plan", "--policy", "{daily:7"}, "");
    CHECK(r2.code == 2);
    CHECK_THAT(r2.err, Catch::StartsWith("retention plan: --policy: invalid JSON"));
  }
  SECTION("bad --tz") {
    const auto r = run_cli({"plan", "--policy", R"({"daily":1})", "--tz", "Mars/Olympus"}, "");
    CHECK(r.code == 2);
    CHECK(r.err == "retention plan: --tz: unknown time zone \"Mars/Olympus\"\n");
  }
  SECTION("usage errors") {
    CHECK(run_cli({}, "").code == 2);
    const auto r = run_cli({"prune"}, "");
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::StartsWith("retention: unknown subcommand \"prune\""));
    const auto r2 = run_cli({"plan", "--policy", R"({"daily":1})", "--dry-run"}, "");
    CHECK(r2.code == 2);
    CHECK_THAT(r2.err, Catch::StartsWith("retention plan: unknown argument \"--dry-run\""));
    const auto r3 =
        run_cli({"plan", "--policy", R"({"daily":1})", "--policy", R"({"daily":2})"}, "");
    CHECK(r3.code == 2);
    CHECK(r3.err == "retention plan: --policy given more than once\n");
    // An argument that is not an option is refused where it stands, before a later problem.
    const auto r4 = run_cli({"plan", "daily", "--bogus"}, "");
    CHECK(r4.code == 2);
    CHECK_THAT(r4.err, Catch::StartsWith("retention plan: unknown argument \"daily\""));
    const auto r5 = run_cli({"plan", "--bogus", "--policy"}, "");
    CHECK(r5.code == 2);
    CHECK_THAT(r5.err, Catch::StartsWith("retention plan: unknown argument \"--bogus\""));
    const auto late_help = run_cli({"plan", "--help", "--bogus"}, "");
    CHECK(late_help.code == 0);
    CHECK_THAT(late_help.out, Catch::StartsWith("usage: respaldo retention plan --policy JSON"));
    const auto help = run_cli({"plan", "--help"}, "");
    CHECK(help.code == 0);
    CHECK_THAT(help.out, Catch::StartsWith("usage: respaldo retention plan --policy JSON"));
  }
}
