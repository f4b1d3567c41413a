#include "respaldo/core/time_format.hpp"

#include <date/tz.h>

#include <charconv>
#include <cstdio>
#include <exception>

#include "respaldo/core/text.hpp"

namespace respaldo {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// Writes `v` as exactly `n` digits ending before `end`.
void put_digits(char* end, unsigned v, int n) {
  for (int i = 0; i < n; ++i, v /= 10) *--end = static_cast<char>('0' + v % 10);
}

// Civil date and time of a "naive" seconds count (UTC or local, the caller knows which). By hand
// rather than snprintf: API listings format several times per row.
std::string format_civil(seconds since_epoch) {
  const auto day = date::floor<date::days>(since_epoch);
  const date::year_month_day ymd{date::sys_days{day}};
  const date::hh_mm_ss<seconds> tod{since_epoch - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {  // outside RFC 3339's four digits: keep the sign and width
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", year,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                  static_cast<int>(tod.seconds().count()));
    return buf;
  }
  std::string out = "0000-00-00T00:00:00";
  char* p = out.data();
  put_digits(p + 4, static_cast<unsigned>(year), 4);
  put_digits(p + 7, static_cast<unsigned>(ymd.month()), 2);
  put_digits(p + 10, static_cast<unsigned>(ymd.day()), 2);
  put_digits(p + 13, static_cast<unsigned>(tod.hours().count()), 2);
  put_digits(p + 16, static_cast<unsigned>(tod.minutes().count()), 2);
  put_digits(p + 19, static_cast<unsigned>(tod.seconds().count()), 2);
  return out;
}

// Reads exactly `n` decimal digits at `pos`, advancing it.
bool read_digits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::string format_rfc3339_utc(sys_seconds t) {
  return format_civil(t.time_since_epoch()) + "Z";
}

std::string format_rfc3339_local(sys_seconds t, const date::time_zone* tz) {
  seconds offset{0};
  if (tz != nullptr) offset = tz->get_info(t).offset;
  // RFC 3339 offsets are hh:mm; truncating keeps the printed text an exact name for `t`.
  const auto off_min = std::chrono::duration_cast<minutes>(offset);
  std::string text = format_civil(t.time_since_epoch() + off_min);
  const int total = static_cast<int>(off_min.count());  // tz offsets stay well within a day
  const int mag = total < 0 ? -total : total;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", total < 0 ? '-' : '+', mag / 60, mag % 60);
  return text + buf;
}

std::optional<sys_seconds> parse_rfc3339(std::string_view s) {
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!read_digits(s, pos, 4, y) || !expect(s, pos, '-') || !read_digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !read_digits(s, pos, 2, d)) {
    return std::nullopt;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!read_digits(s, pos, 2, h) || !expect(s, pos, ':') || !read_digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !read_digits(s, pos, 2, sec)) {
    return std::nullopt;
  }
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(s, pos, 2, oh) || !expect(s, pos, ':') || !read_digits(s, pos, 2, om)) {
      return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset_min = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;

  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const auto local =
      date::sys_days{ymd}.time_since_epoch() + std::chrono::hours{h} + minutes{mi} + seconds{sec};
  return sys_seconds{std::chrono::duration_cast<seconds>(local) - minutes{offset_min}};
}

const date::time_zone* find_time_zone(std::string_view name) {
  if (name.empty() || name == "localtime") return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    // Unknown name, or no readable tz database at all: both mean "no such zone" to callers.
    return nullptr;
  }
}

std::string compact_utc_timestamp(sys_seconds t) {
  return date::format("%Y%m%dT%H%M%SZ", t);
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto ms = parse_scaled(
      text,
      {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}},
      std::uint64_t{1} << 40);
  if (!ms) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

std::string format_duration(std::chrono::seconds d) {
  const auto s = d.count();
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace respaldo
