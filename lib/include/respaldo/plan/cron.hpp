// Cron expressions (the 5-field Vixie cron dialect) and their fire times in an IANA time zone.
// Pure computation: no clock, no I/O (the `respaldo cron` front end is in cli/cron_command).
//
// Syntax: "minute hour day-of-month month day-of-week", fields separated by spaces or tabs.
//   minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or SUN-SAT
//   (0 and 7 are both Sunday). Names are case-insensitive and may be range ends ("MON-FRI").
//   Each field is a comma-separated list of: "*", "N", "A-B", each optionally followed by "/S"
//   (a step: "*/15", "1-30/5"); "N/S" means "N-max/S" ("5/10" in minutes is 5,15,...,55; in
//   day-of-week "max" is 6, so "1/2" is MON,WED,FRI). Ranges must not wrap ("FRI-MON" is refused);
//   a step is 1 up to the field's span (60, 24, 31, 12, 7).
//   Macros: @yearly = @annually = "0 0 1 1 *", @monthly = "0 0 1 * *", @weekly = "0 0 * * 0",
//   @daily = @midnight = "0 0 * * *", @hourly = "0 * * * *". "@reboot" is refused (no instant).
//
// Day rule (as Vixie cron): when both day fields are restricted, a day matching EITHER fires
// ("0 0 1 * MON" fires on the 1st and on every Monday); otherwise the day must match both. As in
// Vixie cron, a field counts as unrestricted when its text starts with "*", so "*/2" is
// unrestricted for this rule ("0 0 */2 * MON" fires on Mondays that are odd days of the month).
//
// Time zones and daylight saving: fields are matched against the wall clock of the zone (date/tz
// and the OS tz database). Each matching local date-time fires at the instant it denotes, except:
//   - a local time that does not exist that day (spring-forward gap) fires at the first valid
//     instant after it, which is the end of the gap: "30 2 * * *" in America/New_York fires on
//     2026-03-08 at 03:00 EDT (07:00Z). Several missing times of one gap fire once, together with
//     the first existing time after the gap if that also matches;
//   - a local time that occurs twice (fall-back overlap) fires once, at its first occurrence
//     (the earlier, daylight-time instant): "30 1 * * *" in America/New_York fires on 2026-11-01 at
//     01:30 EDT (05:30Z) and not at 01:30 EST. This applies to every expression, so "0 * * * *"
//     fires at 01:00 EDT and then 02:00 EST, leaving a two-hour interval that day.
// The OS tz database files list transitions up to 2037 and date/tz does not extend them with the
// files' POSIX rule, so instants after 2037 use the last offset listed (standard time in zones
// with daylight saving).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/core/error.hpp"
#include "respaldo/core/time_format.hpp"

namespace respaldo {

class cron_schedule {
 public:
  // Parses a 5-field expression or a macro. The error names the bad field and what was expected,
  // e.g. "field 2 (hour): value 24 out of range 0-23" or
  // "expected 5 fields (minute hour day-of-month month day-of-week), got 4" (invalid_argument).
  static outcome<cron_schedule> parse(std::string_view expr);

  // First fire time strictly after `after`, evaluated in `tz` (nullptr = UTC). std::nullopt when
  // the expression can never fire ("0 0 30 2 *"), or when the next fire time would fall after the
  // year 9999. The search jumps over non-matching months, days and hours; it is bounded by one
  // 400-year Gregorian cycle, which contains every (date, weekday) combination.
  std::optional<sys_seconds> next_after(sys_seconds after,
                                        const date::time_zone* tz = nullptr) const;

  // False when no calendar day can ever match (e.g. "0 0 30 2 *", "0 0 31 4,6,9,11 *").
  bool can_fire() const;

  // The expression as given, without surrounding whitespace.
  const std::string& expression() const { return expr_; }

 private:
  cron_schedule() = default;
  bool day_matches(unsigned day_of_month, unsigned weekday) const;
  std::optional<std::chrono::minutes> first_time_of_day_from(std::chrono::minutes tod) const;
  // Earliest matching local wall-clock minute >= `from` (minutes since the local epoch), before
  // January 1st of `end_year`.
  std::optional<std::chrono::minutes> next_local_match(std::chrono::minutes from,
                                                       int end_year) const;

  std::string expr_;
  std::uint64_t minutes_ = 0;   // bit N: minute N
  std::uint64_t hours_ = 0;     // bit N: hour N
  std::uint64_t days_ = 0;      // bit N: day of month N (1-31)
  std::uint64_t months_ = 0;    // bit N: month N (1-12)
  std::uint64_t weekdays_ = 0;  // bit N: weekday N (0 = Sunday ... 6), 7 folded into 0
  bool dom_star_ = false;
  bool dow_star_ = false;
};

}  // namespace respaldo
