// `respaldo retention plan`: a policy from the command line, timestamps from the standard input.
#include "respaldo/cli/retention_command.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <istream>
#include <optional>
#include <ostream>
#include <string_view>

#include "respaldo/cli/args.hpp"
#include "respaldo/plan/retention.hpp"

namespace respaldo {

namespace {

constexpr std::string_view usage = "usage: respaldo retention plan --policy JSON [--tz ZONE]";

bool read_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)); fractions are truncated. Unlike
// parse_rfc3339 a leap second (:60) is taken, as the last second of its minute.
std::optional<std::chrono::sys_seconds> parse_timestamp(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!read_digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !read_digits(s, 5, 2, month) ||
      s[7] != '-' || !read_digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !read_digits(s, 11, 2, hour) || s[13] != ':' || !read_digits(s, 14, 2, minute) ||
      s[16] != ':' || !read_digits(s, 17, 2, second))
    return std::nullopt;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!read_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !read_digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                                 date::day{static_cast<unsigned>(day)}};
  // A leap second (:60) stays within its minute, and so within its day.
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  if (second == 60) second = 59;
  const auto local = std::chrono::sys_seconds{date::sys_days{ymd}} + std::chrono::hours{hour} +
                     std::chrono::minutes{minute} + std::chrono::seconds{second};
  return local - std::chrono::minutes{offset_minutes};
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(space) - b + 1);
}

// Prints why the command line was refused; returns 2.
int refuse(const failure& p, std::ostream& err) {
  err << "retention plan: ";
  if (p.code == errc::repeated_option) {
    err << p.subject << " given more than once\n";
    return 2;
  }
  if (p.code == errc::missing_value)
    err << p.subject << " needs a value\n";
  else
    err << "unknown argument \"" << p.subject << "\"\n";
  err << usage << '\n';
  return 2;
}

struct plan_request {
  retention_policy policy;
  const date::time_zone* tz = nullptr;  // UTC
};

// Checks --policy and --tz; the exit status when one is wrong.
std::optional<int> read_values(const cli::command_line& a, plan_request& r, std::ostream& err) {
  const std::string* policy_text = a.value("--policy");
  if (!policy_text) {
    err << "retention plan: missing --policy (a JSON object such as {\"daily\":7,\"weekly\":4})\n"
        << usage << '\n';
    return 2;
  }
  boost::system::error_code ec;
  const boost::json::value policy_json = boost::json::parse(*policy_text, ec);
  if (ec) {
    err << "retention plan: --policy: invalid JSON (" << ec.message() << ")\n";
    return 2;
  }
  const auto policy = parse_retention_policy(policy_json);
  if (!policy) {
    err << "retention plan: --policy: " << policy.error().message << '\n';
    return 2;
  }
  r.policy = *policy;
  if (const std::string* tz_name = a.value("--tz")) {
    try {
      r.tz = date::locate_zone(*tz_name);
    } catch (const std::exception&) {
      err << "retention plan: --tz: unknown time zone \"" << *tz_name << "\"\n";
      return 2;
    }
  }
  return std::nullopt;
}

int print_plan(const plan_request& r, std::istream& in, std::ostream& out, std::ostream& err) {
  std::vector<std::string> given;
  std::vector<retention_candidate> candidates;
  std::string line;
  for (std::size_t line_no = 1; std::getline(in, line); ++line_no) {
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    const auto t = parse_timestamp(text);
    if (!t) {
      err << "retention plan: line " << line_no << ": not an RFC 3339 timestamp: \"" << text
          << "\"\n";
      return 2;
    }
    // Zero-padded positions as ids: equal timestamps are ordered by input position.
    char id[24];
    std::snprintf(id, sizeof id, "%020zu", candidates.size());
    candidates.push_back({id, *t, true, true});
    given.emplace_back(text);
  }
  const auto plan = plan_retention(candidates, r.policy, r.tz);
  for (std::size_t i = 0; i < plan.size(); ++i) {
    out << (plan[i].keep ? "keep " : "delete ") << given[i];
    for (std::string reason : plan[i].reasons) {
      std::replace(reason.begin(), reason.end(), ' ', ':');
      out << ' ' << reason;
    }
    out << '\n';
  }
  return 0;
}

}  // namespace

int run_retention_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                          std::ostream& err) {
  if (args.empty()) {
    err << usage << '\n';
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    out << usage << '\n';
    return 0;
  }
  if (args[0] != "plan") {
    err << "retention: unknown subcommand \"" << args[0] << "\"\n" << usage << '\n';
    return 2;
  }
  const auto parsed = cli::parse_command_line(args, 1, {{"--policy", true}, {"--tz", true}},
                                              {.help_ends_options = true, .positionals = false});
  if (!parsed) return refuse(parsed.error(), err);
  if (parsed->help) {
    out << usage << '\n';
    return 0;
  }
  plan_request request;
  if (auto done = read_values(*parsed, request, err)) return *done;
  return print_plan(request, in, out, err);
}

}  // namespace respaldo
