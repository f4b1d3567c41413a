// `respaldo cron next`: the arguments are checked first, then the fire times are printed.
#include "respaldo/cli/cron_command.hpp"

#include <charconv>
#include <chrono>
#include <optional>
#include <ostream>
#include <string_view>

#include "respaldo/cli/args.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/plan/cron.hpp"

namespace respaldo {

namespace {

constexpr std::string_view usage_text =
    "usage: respaldo cron next EXPR [-n N] [--after RFC3339] [--tz ZONE]\n"
    "  EXPR            5-field cron expression (quote it: '0 3 * * *') or a macro (@daily)\n"
    "  -n, --count N   how many fire times to print, 1-10000 (default 5)\n"
    "  --after TIME    list fire times strictly after this RFC 3339 instant (default: now)\n"
    "  --tz ZONE       evaluate in this IANA time zone and print local times with offset\n"
    "                  (default: UTC, printed as ...Z)\n";

constexpr int max_count = 10000;

// Command-line shape errors repeat the usage; a bad value only needs its message.
int usage_error(std::ostream& err, const std::string& msg) {
  err << "respaldo cron: " << msg << "\n" << usage_text;
  return 2;
}

int value_error(std::ostream& err, const std::string& msg) {
  err << "respaldo cron: " << msg << "\n";
  return 2;
}

struct next_request {
  std::string expr;
  int count = 5;
  sys_seconds after;
  const date::time_zone* tz = nullptr;  // UTC
};

// Checks -n, --after and --tz; the exit status when one is wrong.
std::optional<int> read_values(const cli::command_line& a, next_request& r, std::ostream& err) {
  if (const auto* t = a.value("--count")) {
    int n = 0;
    const auto [ptr, ec] = std::from_chars(t->data(), t->data() + t->size(), n);
    if (t->empty() || ec != std::errc{} || ptr != t->data() + t->size() || n < 1 || n > max_count)
      return value_error(
          err, "-n: expected a whole number 1-" + std::to_string(max_count) + ", got '" + *t + "'");
    r.count = n;
  }
  r.after = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (const auto* t = a.value("--after")) {
    const auto parsed = parse_rfc3339(*t);
    if (!parsed)
      return value_error(
          err, "--after: expected an RFC 3339 time such as 2026-01-31T02:00:00Z, got '" + *t + "'");
    r.after = *parsed;
  }
  if (const auto* t = a.value("--tz")) {
    r.tz = find_time_zone(*t);
    if (r.tz == nullptr)
      return value_error(err, "--tz: unknown time zone '" + *t +
                                  "' (expected an IANA name such as Europe/Berlin)");
  }
  return std::nullopt;
}

int print_next(const next_request& r, std::ostream& out, std::ostream& err) {
  const auto schedule = cron_schedule::parse(r.expr);
  if (!schedule)
    return value_error(err,
                       "invalid cron expression '" + r.expr + "': " + schedule.error().message);
  if (!schedule->can_fire())
    return value_error(err, "cron expression '" + r.expr +
                                "' never fires (no listed day exists in a listed month)");
  sys_seconds after = r.after;
  for (int i = 0; i < r.count; ++i) {
    const auto next = schedule->next_after(after, r.tz);
    if (!next) {
      err << "respaldo cron: no further fire time before the year 10000\n";
      break;
    }
    out << (r.tz != nullptr ? format_rfc3339_local(*next, r.tz) : format_rfc3339_utc(*next))
        << "\n";
    after = *next;
  }
  return 0;
}

}  // namespace

int run_cron_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) return usage_error(err, "missing subcommand (expected 'next')");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    out << usage_text;
    return 0;
  }
  if (args[0] != "next")
    return usage_error(err, "unknown subcommand '" + args[0] + "' (expected 'next')");

  const auto parsed =
      cli::parse_command_line(args, 1, {{"--count", true, "-n"}, {"--after", true}, {"--tz", true}},
                              {.help_ends_options = true});
  if (!parsed) return usage_error(err, parsed.error().message);
  if (parsed->help) {
    out << usage_text;
    return 0;
  }
  const auto& positional = parsed->positional;
  if (positional.empty()) return usage_error(err, "missing cron expression EXPR");
  if (positional.size() > 1)
    return usage_error(err, "expected one EXPR argument, got " + std::to_string(positional.size()) +
                                " (quote the expression: '0 3 * * *')");
  next_request request;
  request.expr = positional[0];
  if (auto done = read_values(*parsed, request, err)) return *done;
  return print_next(request, out, err);
}

}  // namespace respaldo
