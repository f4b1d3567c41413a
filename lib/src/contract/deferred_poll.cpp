#include "respaldo/contract/deferred_poll.hpp"

#include <date/date.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace respaldo {
namespace {

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view v, std::chrono::system_clock::time_point now) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  constexpr std::chrono::milliseconds a_day = std::chrono::hours(24);
  if (auto secs = parse_u64(v))
    return std::chrono::milliseconds(std::min<std::uint64_t>(*secs, 86'400) * 1000);
  // IMF-fixdate: fixed positions, "Sun, 06 Nov 1994 08:49:37 GMT".
  if (v.size() != 29 || v.substr(3, 2) != ", " || v.substr(25) != " GMT") return std::nullopt;
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const auto month_pos = months.find(v.substr(8, 3));
  if (month_pos == std::string_view::npos || month_pos % 3 != 0) return std::nullopt;
  auto field = [&](std::size_t pos, std::size_t n) { return parse_u64(v.substr(pos, n)); };
  const auto day = field(5, 2), year = field(12, 4), hh = field(17, 2), mm = field(20, 2),
             ss = field(23, 2);
  if (!day || !year || !hh || !mm || !ss || v[16] != ' ' || v[19] != ':' || v[22] != ':' ||
      v[7] != ' ' || v[11] != ' ' || *hh > 23 || *mm > 59 || *ss > 60)
    return std::nullopt;
  const date::year_month_day ymd{date::year(static_cast<int>(*year)),
                                 date::month(static_cast<unsigned>(month_pos / 3 + 1)),
                                 date::day(static_cast<unsigned>(*day))};
  if (!ymd.ok()) return std::nullopt;
  const auto at = date::sys_days(ymd) + std::chrono::hours(*hh) + std::chrono::minutes(*mm) +
                  std::chrono::seconds(*ss);
  // Compared in milliseconds: system_clock's nanosecond time points cannot hold the years before
  // 1678 or after 2261 that an IMF-fixdate may name.
  const std::chrono::sys_time<std::chrono::milliseconds> at_ms = at;
  const auto now_ms = std::chrono::floor<std::chrono::milliseconds>(now);
  if (at_ms <= now_ms) return std::chrono::milliseconds(0);
  return std::min<std::chrono::milliseconds>(at_ms - now_ms, a_day);
}

std::chrono::milliseconds deferred_poll::next_delay(std::optional<std::string_view> retry_after,
                                                    std::chrono::system_clock::time_point now) {
  auto wait = delay_;
  if (retry_after)
    if (auto asked = parse_retry_after(*retry_after, now)) wait = *asked;
  wait = std::clamp(wait, min_wait, std::max(max_, min_wait));
  delay_ = std::min(max_, delay_ * 3 / 2);
  return wait;
}

}  // namespace respaldo
