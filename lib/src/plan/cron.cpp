#include "respaldo/plan/cron.hpp"

#include <date/tz.h>

#include <array>
#include <bit>
#include <cctype>
#include <charconv>

namespace respaldo {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::array<std::string_view, 12> month_names{"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> weekday_names{"SUN", "MON", "TUE", "WED",
                                                        "THU", "FRI", "SAT"};

struct field_spec {
  int number;  // 1-based position, for messages
  std::string_view name;
  int min;
  int max;       // largest value accepted (7 for day-of-week)
  int star_max;  // end of "*" and of "N/S" (6 for day-of-week: 7 would repeat Sunday)
  const std::string_view* names;  // names[i] is value min + i; nullptr if the field has none
  std::size_t name_count;
};

constexpr std::array<field_spec, 5> fields{{
    {1, "minute", 0, 59, 59, nullptr, 0},
    {2, "hour", 0, 23, 23, nullptr, 0},
    {3, "day-of-month", 1, 31, 31, nullptr, 0},
    {4, "month", 1, 12, 12, month_names.data(), month_names.size()},
    {5, "day-of-week", 0, 7, 6, weekday_names.data(), weekday_names.size()},
}};

constexpr std::string_view fields_summary =
    "expected 5 fields (minute hour day-of-month month day-of-week)";

struct macro {
  std::string_view name;
  std::string_view expansion;
};
constexpr std::array<macro, 7> macros{{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

template <class T>
using result = outcome<T>;

failure invalid(std::string message) {
  return failure{errc::invalid_argument, std::move(message)};
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Escaped, since the expression comes from a client and the message reaches logs and terminals.
std::string quoted(std::string_view s) {
  return "\"" + escaped_excerpt(s, 80) + "\"";
}

std::string range_text(int lo, int hi) {
  return std::to_string(lo) + "-" + std::to_string(hi);
}

result<int> parse_value(std::string_view text, const field_spec& f) {
  if (all_digits(text)) {
    unsigned v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size() || v < unsigned(f.min) ||
        v > unsigned(f.max)) {
      return invalid("value " + std::string(text) + " out of range " + range_text(f.min, f.max));
    }
    return static_cast<int>(v);
  }
  for (std::size_t i = 0; i < f.name_count; ++i) {
    if (iequals(text, f.names[i])) return f.min + static_cast<int>(i);
  }
  std::string msg = text.empty() ? std::string("missing value") : "invalid value " + quoted(text);
  msg += " (expected a number " + range_text(f.min, f.max);
  if (f.names != nullptr) {
    msg += " or a name " + std::string(f.names[0]) + "-" + std::string(f.names[f.name_count - 1]);
  }
  return invalid(msg + ")");
}

// One list element: "*", "N", "A-B", each with an optional "/S". Returns the bits it selects.
result<std::uint64_t> parse_element(std::string_view elem, const field_spec& f) {
  if (elem.empty()) return invalid(std::string("empty list element"));
  std::string_view base = elem;
  std::optional<std::string_view> step_text;
  if (const auto slash = elem.find('/'); slash != std::string_view::npos) {
    base = elem.substr(0, slash);
    step_text = elem.substr(slash + 1);
    if (step_text->find('/') != std::string_view::npos) {
      return invalid("more than one '/' in " + quoted(elem));
    }
    if (base.empty()) return invalid("missing range before '/' in " + quoted(elem));
  }

  int lo = 0;
  int hi = 0;
  if (base == "*") {
    lo = f.min;
    hi = f.star_max;
  } else if (const auto dash = base.find('-'); dash != std::string_view::npos) {
    const auto a = base.substr(0, dash);
    const auto b = base.substr(dash + 1);
    if (a.empty() || b.empty()) return invalid("incomplete range " + quoted(base));
    auto lo_r = parse_value(a, f);
    if (!lo_r) return lo_r.error();
    auto hi_r = parse_value(b, f);
    if (!hi_r) return hi_r.error();
    lo = *lo_r;
    hi = *hi_r;
    if (lo > hi) {
      return invalid("range " + quoted(base) + " goes backwards (" + std::to_string(lo) + " > " +
                     std::to_string(hi) + ")");
    }
  } else {
    auto v = parse_value(base, f);
    if (!v) return v.error();
    lo = *v;
    hi = step_text ? std::max(lo, f.star_max) : lo;
  }

  int step = 1;
  if (step_text) {
    const int span = f.star_max - f.min + 1;
    if (!all_digits(*step_text)) {
      return invalid("invalid step " + quoted(*step_text) + " (expected a number 1-" +
                     std::to_string(span) + ")");
    }
    unsigned s = 0;
    const auto [ptr, ec] =
        std::from_chars(step_text->data(), step_text->data() + step_text->size(), s);
    if (ec != std::errc{} || ptr != step_text->data() + step_text->size() || s < 1 ||
        s > unsigned(span)) {
      return invalid("step " + std::string(*step_text) + " out of range 1-" + std::to_string(span));
    }
    step = static_cast<int>(s);
  }

  std::uint64_t bits = 0;
  for (int v = lo; v <= hi; v += step) bits |= std::uint64_t{1} << v;
  return bits;
}

result<std::uint64_t> parse_field(std::string_view text, const field_spec& f) {
  std::uint64_t bits = 0;
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const auto elem =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    auto r = parse_element(elem, f);
    if (!r) {
      return invalid("field " + std::to_string(f.number) + " (" + std::string(f.name) +
                     "): " + r.error().message);
    }
    bits |= *r;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return bits;
}

// Index of the lowest set bit >= `from`, or -1.
int next_bit(std::uint64_t mask, int from) {
  if (from >= 64) return -1;
  const std::uint64_t rest = mask >> from;
  if (rest == 0) return -1;
  return from + std::countr_zero(rest);
}

unsigned days_in_month_max(unsigned month) {
  constexpr std::array<unsigned, 13> max{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return max[month];
}

}  // namespace

outcome<cron_schedule> cron_schedule::parse(std::string_view expr) {
  const auto trimmed = trim(expr);
  std::string_view body = trimmed;

  if (!trimmed.empty() && trimmed.front() == '@') {
    const auto* found = static_cast<const macro*>(nullptr);
    for (const auto& m : macros) {
      if (iequals(trimmed, m.name)) found = &m;
    }
    if (found == nullptr) {
      std::string msg = "unknown macro " + quoted(trimmed) + " (expected one of";
      for (const auto& m : macros) msg += " " + std::string(m.name);
      return invalid(msg + ")");
    }
    body = found->expansion;
  }

  std::array<std::string_view, 5> parts;
  std::size_t count = 0;
  std::size_t pos = 0;
  while (pos < body.size()) {
    while (pos < body.size() && is_blank(body[pos])) ++pos;
    if (pos >= body.size()) break;
    const auto start = pos;
    while (pos < body.size() && !is_blank(body[pos])) ++pos;
    if (count < parts.size()) parts[count] = body.substr(start, pos - start);
    ++count;
  }
  if (count != parts.size()) {
    return invalid(std::string(fields_summary) + ", got " + std::to_string(count));
  }

  cron_schedule s;
  s.expr_ = std::string(trimmed);
  std::array<std::uint64_t, 5> masks{};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto r = parse_field(parts[i], fields[i]);
    if (!r) return r.error();
    masks[i] = *r;
  }
  s.minutes_ = masks[0];
  s.hours_ = masks[1];
  s.days_ = masks[2];
  s.months_ = masks[3];
  s.weekdays_ = masks[4];
  if (s.weekdays_ & (std::uint64_t{1} << 7)) s.weekdays_ = (s.weekdays_ & 0x7f) | 1;  // 7 is Sunday
  s.dom_star_ = parts[2].front() == '*';
  s.dow_star_ = parts[4].front() == '*';
  return s;
}

bool cron_schedule::can_fire() const {
  // With both day fields restricted any weekday listed fires, and every month has every weekday.
  if (!dom_star_ && !dow_star_) return true;
  // Otherwise a listed day of a listed month must exist; each existing date (Feb 29 included)
  // falls on every weekday within a 400-year cycle, so the weekday field cannot prevent a match.
  for (unsigned m = 1; m <= 12; ++m) {
    if (!(months_ >> m & 1)) continue;
    const std::uint64_t existing = ((std::uint64_t{1} << (days_in_month_max(m) + 1)) - 1) & ~1ull;
    if (days_ & existing) return true;
  }
  return false;
}

bool cron_schedule::day_matches(unsigned day_of_month, unsigned weekday) const {
  const bool dom = days_ >> day_of_month & 1;
  const bool dow = weekdays_ >> weekday & 1;
  return (dom_star_ || dow_star_) ? (dom && dow) : (dom || dow);
}

std::optional<minutes> cron_schedule::first_time_of_day_from(minutes tod) const {
  const int h0 = static_cast<int>(tod.count() / 60);
  const int m0 = static_cast<int>(tod.count() % 60);
  for (int h = next_bit(hours_, h0); h >= 0; h = next_bit(hours_, h + 1)) {
    const int m = next_bit(minutes_, h == h0 ? m0 : 0);
    if (m >= 0) return minutes{h * 60 + m};
  }
  return std::nullopt;
}

std::optional<minutes> cron_schedule::next_local_match(minutes from, int end_year) const {
  const date::local_time<minutes> start{from};
  date::local_days day = date::floor<date::days>(start);
  minutes tod = start - day;
  for (;;) {
    const date::year_month_day ymd{day};
    if (static_cast<int>(ymd.year()) >= end_year) return std::nullopt;
    if (!(months_ >> static_cast<unsigned>(ymd.month()) & 1)) {
      // Skip the rest of a month that is not listed.
      day = date::local_days{(ymd.year() / ymd.month() + date::months{1}) / 1};
      tod = minutes{0};
      continue;
    }
    if (day_matches(static_cast<unsigned>(ymd.day()), date::weekday{day}.c_encoding())) {
      if (const auto t = first_time_of_day_from(tod)) return (day + *t).time_since_epoch();
    }
    day += date::days{1};
    tod = minutes{0};
  }
}

std::optional<sys_seconds> cron_schedule::next_after(sys_seconds after,
                                                     const date::time_zone* tz) const {
  if (!can_fire()) return std::nullopt;
  // Keep calendar arithmetic inside the years RFC 3339 can print.
  constexpr int last_year = 9999;
  const sys_seconds lowest{date::sys_days{date::year{0} / 1 / 1}.time_since_epoch() - seconds{1}};
  const sys_seconds highest{date::sys_days{date::year{last_year + 1} / 1 / 1}.time_since_epoch()};
  if (after >= highest) return std::nullopt;
  if (after < lowest) after = lowest;

  const auto to_local = [tz](sys_seconds t) {
    return tz != nullptr ? tz->to_local(t) : date::local_seconds{t.time_since_epoch()};
  };
  // A nonexistent local time maps to the end of its gap, an ambiguous one to its earlier instant
  // (choose::earliest does both). This map is non-decreasing, so the first local match whose
  // instant is after `after` gives the answer.
  const auto to_instant = [tz](date::local_seconds l) {
    return tz != nullptr ? tz->to_sys(l, date::choose::earliest)
                         : sys_seconds{l.time_since_epoch()};
  };

  // Every local minute up to the local time of `after` maps to an instant <= `after`.
  auto from = date::floor<minutes>(to_local(after)) + minutes{1};
  const int start_year =
      static_cast<int>(date::year_month_day{date::floor<date::days>(from)}.year());
  const int end_year = std::min(start_year + 401, last_year + 1);
  while (const auto local = next_local_match(from.time_since_epoch(), end_year)) {
    const date::local_seconds l{*local};
    const sys_seconds instant = to_instant(l);
    // Only candidates in a gap or an overlap around `after` fall here; skip them one by one.
    if (instant > after) return instant < highest ? std::optional(instant) : std::nullopt;
    from = date::local_time<minutes>{*local} + minutes{1};
  }
  return std::nullopt;
}

}  // namespace respaldo
