// RFC 3339 timestamps and IANA time zone lookup, shared by every part of respaldo that shows or
// reads instants (API, catalog, CLI).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;  // <date/tz.h>; declared here so that users who only format UTC skip that header
}

namespace respaldo {

// Instants are whole seconds on the system clock (UTC, no leap seconds).
using sys_seconds = std::chrono::sys_seconds;

// "2026-11-30T03:00:00Z".
std::string format_rfc3339_utc(sys_seconds t);

// Local time in `tz` with its UTC offset, "2026-03-29T03:00:00+02:00"; nullptr means UTC and gives
// "+00:00". RFC 3339 offsets have no seconds: historical offsets that do (local mean time before
// ~1900) are truncated to whole minutes and the local time is printed under that offset, so the
// text always denotes exactly `t`.
std::string format_rfc3339_local(sys_seconds t, const date::time_zone* tz);

// "20261130T030000Z": the timestamp in backup object names.
std::string compact_utc_timestamp(sys_seconds t);

// Accepts RFC 3339 date-times: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". "t"/"z" in lower case
// and a space instead of "T" are accepted as RFC 3339 allows; fractional seconds are truncated.
// Rejected (std::nullopt): anything else, including impossible dates (2025-02-29), leap seconds
// (":60", not representable in sys_seconds), missing offsets and trailing text.
std::optional<sys_seconds> parse_rfc3339(std::string_view text);

// The IANA zone named `name` ("Europe/Berlin", "UTC", links such as "US/Eastern") from the OS tz
// database, or nullptr if there is none. Names are case-sensitive. "localtime" is refused: it is
// the machine's setting, not a zone name. Never throws.
const date::time_zone* find_time_zone(std::string_view name);

// Durations as flags and fields spell them: "250ms", "30s", "5m", "2h", "1d" (and a bare number
// of seconds); std::nullopt for anything else or above 2^40 ms.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// The shortest of those spellings for a whole number of seconds: "90s" stays "90s", 7200 s is
// "2h", 86400 s "1d".
std::string format_duration(std::chrono::seconds d);

}  // namespace respaldo
