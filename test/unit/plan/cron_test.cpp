#include "respaldo/plan/cron.hpp"

#include <date/tz.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "respaldo/core/time_format.hpp"

using respaldo::cron_schedule;
using respaldo::sys_seconds;

namespace {

sys_seconds at(const std::string& text) {
  const auto t = respaldo::parse_rfc3339(text);
  INFO("timestamp " << text);
  REQUIRE(t.has_value());
  return *t;
}

std::string next_utc(const std::string& expr, const std::string& after,
                     const date::time_zone* tz = nullptr) {
  const auto s = cron_schedule::parse(expr);
  INFO("expression " << expr);
  REQUIRE(s.has_value());
  const auto next = s->next_after(at(after), tz);
  REQUIRE(next.has_value());
  return respaldo::format_rfc3339_utc(*next);
}

const date::time_zone* zone(const char* name) {
  const auto* tz = respaldo::find_time_zone(name);
  REQUIRE(tz != nullptr);
  return tz;
}

}  // namespace

TEST_CASE("cron next fire times in UTC", "[cron]") {
  struct row {
    const char* expr;
    const char* after;
    const char* expected;
  };
  // 2026-01-01 is a Thursday.
  const row rows[] = {
      {"* * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
      {"* * * * *", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z"},
      {"* * * * *", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
      {"0 * * * *", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
      {"59 * * * *", "2026-12-31T23:59:00Z", "2027-01-01T00:59:00Z"},
      {"*/15 * * * *", "2026-01-01T00:14:59Z", "2026-01-01T00:15:00Z"},
      {"*/15 * * * *", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"},
      {"1-30/5 * * * *", "2026-01-01T00:27:00Z", "2026-01-01T01:01:00Z"},
      {"5/10 * * * *", "2026-01-01T00:55:00Z", "2026-01-01T01:05:00Z"},
      {"5/10 * * * *", "2026-01-01T00:05:00Z", "2026-01-01T00:15:00Z"},
      {"0,30 8 * * *", "2026-01-01T08:00:00Z", "2026-01-01T08:30:00Z"},
      {"00 03 * * *", "2026-01-01T03:00:00Z", "2026-01-02T03:00:00Z"},
      {"0 3 * * *", "2026-11-29T03:00:00Z", "2026-11-30T03:00:00Z"},
      {"30 2 * * *", "2026-01-01T02:29:59Z", "2026-01-01T02:30:00Z"},
      {"30 23 * * *", "2026-02-28T23:30:00Z", "2026-03-01T23:30:00Z"},
      {" \t0  3 * *\t* ", "2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z"},
      // Month ends and leap years.
      {"0 0 1 * *", "2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z"},
      {"0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
      {"0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
      {"0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
      {"0 0 31 1-12/2 *", "2026-07-31T00:00:00Z", "2027-01-31T00:00:00Z"},
      {"0 0 29 2 *", "2025-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
      {"0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
      {"0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
      {"59 23 28,29 2 *", "2026-02-28T23:59:00Z", "2027-02-28T23:59:00Z"},
      {"59 23 28,29 2 *", "2028-02-28T23:59:00Z", "2028-02-29T23:59:00Z"},
      {"59 23 31 12 *", "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z"},
      {"0 0 1 1 *", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
      // Months: names, ranges, steps.
      {"0 0 1 jan,JUL *", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
      {"0 0 1 JUN-AUG *", "2026-08-01T00:00:00Z", "2027-06-01T00:00:00Z"},
      {"0 0 1 */3 *", "2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z"},
      {"0 0 1 Dec *", "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z"},
      // Weekdays: numbers, names, 7 as Sunday, ranges, steps.
      {"0 0 * * 0", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * SUN", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * sat,sun", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
      {"0 12 * * MON-FRI", "2026-01-02T12:00:00Z", "2026-01-05T12:00:00Z"},
      {"15 10 * * 5-7", "2026-01-05T00:00:00Z", "2026-01-09T10:15:00Z"},
      {"15 10 * * 6-7", "2026-01-03T10:15:00Z", "2026-01-04T10:15:00Z"},
      {"0 9-17/2 * * 1-5", "2026-01-02T15:00:00Z", "2026-01-02T17:00:00Z"},
      {"0 9-17/2 * * 1-5", "2026-01-02T17:00:00Z", "2026-01-05T09:00:00Z"},
      {"0 0 * * */2", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
      {"0 0 * * 1/2", "2026-01-03T00:00:00Z", "2026-01-05T00:00:00Z"},
      // Both day fields restricted: either matches.
      {"0 0 13 * FRI", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
      {"0 0 13 * FRI", "2026-01-10T00:00:00Z", "2026-01-13T00:00:00Z"},
      {"0 0 1,15 * 3", "2026-01-01T00:00:00Z", "2026-01-07T00:00:00Z"},
      {"0 0 29 2 1", "2026-03-01T00:00:00Z", "2027-02-01T00:00:00Z"},
      {"0 0 30 2 MON", "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z"},
      {"0 0 1-31 * MON", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
      // A field starting with "*" counts as unrestricted: both must match.
      {"0 0 */2 * MON", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
      {"0 0 */2 * MON", "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"},
      {"0 0 1-7 * */7", "2026-01-04T00:00:00Z", "2026-02-01T00:00:00Z"},
      {"0 0 29 2 */7", "2026-01-01T00:00:00Z", "2032-02-29T00:00:00Z"},
      {"0 0 29 2 */7", "2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z"},
      // Macros.
      {"@hourly", "2026-01-01T10:30:00Z", "2026-01-01T11:00:00Z"},
      {"@daily", "2026-01-01T10:30:00Z", "2026-01-02T00:00:00Z"},
      {"@midnight", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
      {"@weekly", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"@monthly", "2026-12-15T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@yearly", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@annually", "2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z"},
      {"@DAILY", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
      // Instants before 1970 work too.
      {"0 0 1 1 *", "1969-06-01T00:00:00Z", "1970-01-01T00:00:00Z"},
  };
  for (const auto& r : rows) {
    INFO(r.expr << " after " << r.after);
    CHECK(next_utc(r.expr, r.after) == r.expected);
  }
}

TEST_CASE("cron next_after is strictly after and chains", "[cron]") {
  const auto s = cron_schedule::parse("0 3 * * *");
  REQUIRE(s.has_value());
  CHECK(s->expression() == "0 3 * * *");
  auto t = at("2026-11-29T12:00:00Z");
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    const auto n = s->next_after(t);
    REQUIRE(n.has_value());
    CHECK(*n > t);
    got.push_back(respaldo::format_rfc3339_utc(*n));
    t = *n;
  }
  CHECK(got == std::vector<std::string>{"2026-11-30T03:00:00Z", "2026-12-01T03:00:00Z",
                                        "2026-12-02T03:00:00Z"});
  // Exactly at a fire time: that one is not returned.
  CHECK(next_utc("0 3 * * *", "2026-11-30T03:00:00Z") == "2026-12-01T03:00:00Z");
  CHECK(next_utc("0 3 * * *", "2026-11-30T02:59:59Z") == "2026-11-30T03:00:00Z");
}

TEST_CASE("cron expressions that can never fire", "[cron]") {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 FEB *",
                           "0 0 31 2 */2", "0 0 31 2,4 *"}) {
    INFO(expr);
    const auto s = cron_schedule::parse(expr);
    REQUIRE(s.has_value());
    CHECK_FALSE(s->can_fire());
    CHECK_FALSE(s->next_after(at("2026-01-01T00:00:00Z")).has_value());
    CHECK_FALSE(s->next_after(at("2026-01-01T00:00:00Z"), zone("Europe/Berlin")).has_value());
  }
  for (const char* expr : {"0 0 29 2 *", "0 0 30 2 MON", "0 0 31 * *", "0 0 */31 * *"}) {
    INFO(expr);
    const auto s = cron_schedule::parse(expr);
    REQUIRE(s.has_value());
    CHECK(s->can_fire());
  }
}

TEST_CASE("cron next_after near the end of the supported range", "[cron]") {
  const auto s = cron_schedule::parse("0 0 29 2 *");
  REQUIRE(s.has_value());
  CHECK(respaldo::format_rfc3339_utc(*s->next_after(at("9995-01-01T00:00:00Z"))) ==
        "9996-02-29T00:00:00Z");
  CHECK_FALSE(s->next_after(at("9996-03-01T00:00:00Z")).has_value());
  CHECK_FALSE(s->next_after(sys_seconds::max()).has_value());
  // 9999-12-31T23:59 at UTC-12 is already in the year 10000 in UTC.
  const auto last = cron_schedule::parse("59 23 31 12 *");
  REQUIRE(last.has_value());
  CHECK_FALSE(last->next_after(at("9999-12-30T00:00:00Z"), zone("Etc/GMT+12")).has_value());
  CHECK(respaldo::format_rfc3339_utc(*last->next_after(at("9999-12-30T00:00:00Z"))) ==
        "9999-12-31T23:59:00Z");
  const auto every = cron_schedule::parse("* * * * *");
  REQUIRE(every.has_value());
  CHECK(every->next_after(sys_seconds::min()).has_value());
}

TEST_CASE("cron rejects invalid expressions naming the field", "[cron]") {
  struct row {
    const char* expr;
    const char* message;
  };
  const row rows[] = {
      {"", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"},
      {"   ", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"},
      {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
      {"* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
      {"60 * * * *", "field 1 (minute): value 60 out of range 0-59"},
      {"99999999999 * * * *", "field 1 (minute): value 99999999999 out of range 0-59"},
      {"0 24 * * *", "field 2 (hour): value 24 out of range 0-23"},
      {"0 0 0 * *", "field 3 (day-of-month): value 0 out of range 1-31"},
      {"0 0 32 * *", "field 3 (day-of-month): value 32 out of range 1-31"},
      {"0 0 * 13 *", "field 4 (month): value 13 out of range 1-12"},
      {"0 0 * 0 *", "field 4 (month): value 0 out of range 1-12"},
      {"0 0 * * 8", "field 5 (day-of-week): value 8 out of range 0-7"},
      {"0 0 * FOO *",
       "field 4 (month): invalid value \"FOO\" (expected a number 1-12 or a name JAN-DEC)"},
      {"0 0 * MON *",
       "field 4 (month): invalid value \"MON\" (expected a number 1-12 or a name JAN-DEC)"},
      {"0 0 * * MONDAY",
       "field 5 (day-of-week): invalid value \"MONDAY\" (expected a number 0-7 or a name "
       "SUN-SAT)"},
      {"0 0 * * JAN",
       "field 5 (day-of-week): invalid value \"JAN\" (expected a number 0-7 or a name SUN-SAT)"},
      {"0 JAN * * *", "field 2 (hour): invalid value \"JAN\" (expected a number 0-23)"},
      {"a * * * *", "field 1 (minute): invalid value \"a\" (expected a number 0-59)"},
      {"0 0 ? * *", "field 3 (day-of-month): invalid value \"?\" (expected a number 1-31)"},
      {"0 0 L * *", "field 3 (day-of-month): invalid value \"L\" (expected a number 1-31)"},
      {"1.5 * * * *", "field 1 (minute): invalid value \"1.5\" (expected a number 0-59)"},
      {"0 0 1-* * *", "field 3 (day-of-month): invalid value \"*\" (expected a number 1-31)"},
      {"*/0 * * * *", "field 1 (minute): step 0 out of range 1-60"},
      {"*/61 * * * *", "field 1 (minute): step 61 out of range 1-60"},
      {"0 0 * * */8", "field 5 (day-of-week): step 8 out of range 1-7"},
      {"*/ * * * *", "field 1 (minute): invalid step \"\" (expected a number 1-60)"},
      {"*/2x * * * *", "field 1 (minute): invalid step \"2x\" (expected a number 1-60)"},
      {"*/2/3 * * * *", "field 1 (minute): more than one '/' in \"*/2/3\""},
      {"/5 * * * *", "field 1 (minute): missing range before '/' in \"/5\""},
      {"0 5-1 * * *", "field 2 (hour): range \"5-1\" goes backwards (5 > 1)"},
      {"0 0 * * FRI-MON", "field 5 (day-of-week): range \"FRI-MON\" goes backwards (5 > 1)"},
      {"0 0 * DEC-JAN *", "field 4 (month): range \"DEC-JAN\" goes backwards (12 > 1)"},
      {"-5 * * * *", "field 1 (minute): incomplete range \"-5\""},
      {"5- * * * *", "field 1 (minute): incomplete range \"5-\""},
      {"1,,2 * * * *", "field 1 (minute): empty list element"},
      {"0 0 1, * *", "field 3 (day-of-month): empty list element"},
      {"@reboot",
       "unknown macro \"@reboot\" (expected one of @yearly @annually @monthly @weekly @daily "
       "@midnight @hourly)"},
      {"@daily 0",
       "unknown macro \"@daily 0\" (expected one of @yearly @annually @monthly @weekly @daily "
       "@midnight @hourly)"},
  };
  for (const auto& r : rows) {
    INFO("expression \"" << r.expr << "\"");
    const auto s = cron_schedule::parse(r.expr);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().message == r.message);
    CHECK(s.error().code == respaldo::errc::invalid_argument);
  }
}

TEST_CASE("cron in America/New_York across daylight saving", "[cron]") {
  const auto* ny = zone("America/New_York");
  SECTION("a time inside the spring-forward gap fires when the gap ends") {
    // 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00Z).
    CHECK(next_utc("30 2 * * *", "2026-03-07T12:00:00Z", ny) == "2026-03-08T07:00:00Z");
    CHECK(next_utc("30 2 * * *", "2026-03-08T07:00:00Z", ny) == "2026-03-09T06:30:00Z");
    CHECK(next_utc("0 2 * * *", "2026-03-07T12:00:00Z", ny) == "2026-03-08T07:00:00Z");
    const auto s = cron_schedule::parse("30 2 * * *");
    REQUIRE(s.has_value());
    CHECK(respaldo::format_rfc3339_local(*s->next_after(at("2026-03-07T12:00:00Z"), ny), ny) ==
          "2026-03-08T03:00:00-04:00");
  }
  SECTION("several missing times and the end of the gap fire once") {
    CHECK(next_utc("*/15 * * * *", "2026-03-08T06:40:00Z", ny) == "2026-03-08T06:45:00Z");
    CHECK(next_utc("*/15 * * * *", "2026-03-08T06:45:00Z", ny) == "2026-03-08T07:00:00Z");
    CHECK(next_utc("*/15 * * * *", "2026-03-08T07:00:00Z", ny) == "2026-03-08T07:15:00Z");
  }
  SECTION("a time occurring twice fires at its first occurrence only") {
    // 2026-11-01 02:00 EDT falls back to 01:00 EST (06:00Z).
    CHECK(next_utc("30 1 * * *", "2026-11-01T00:00:00Z", ny) == "2026-11-01T05:30:00Z");
    CHECK(next_utc("30 1 * * *", "2026-11-01T05:30:00Z", ny) == "2026-11-02T06:30:00Z");
    CHECK(next_utc("0 * * * *", "2026-11-01T04:30:00Z", ny) == "2026-11-01T05:00:00Z");
    CHECK(next_utc("0 * * * *", "2026-11-01T05:00:00Z", ny) == "2026-11-01T07:00:00Z");
  }
  SECTION("starting from inside the second occurrence") {
    // 06:10Z is 01:10 EST; 01:45 already fired at 05:45Z (EDT).
    CHECK(next_utc("45 1 * * *", "2026-11-01T06:10:00Z", ny) == "2026-11-02T06:45:00Z");
    CHECK(next_utc("*/30 * * * *", "2026-11-01T06:10:00Z", ny) == "2026-11-01T07:00:00Z");
  }
  SECTION("a whole year every 5 minutes: one lost hour in autumn, no double fire") {
    const auto s = cron_schedule::parse("*/5 * * * *");
    REQUIRE(s.has_value());
    auto t = at("2026-01-01T04:59:59Z");  // 23:59:59 EST
    const auto end = at("2027-01-01T05:00:00Z");
    long count = 0;
    auto longest = std::chrono::seconds{0};
    sys_seconds longest_from{};
    for (;;) {
      const auto n = s->next_after(t, ny);
      REQUIRE(n.has_value());
      if (*n >= end) break;
      REQUIRE(*n > t);
      if (count > 0 && *n - t > longest) {
        longest = *n - t;
        longest_from = t;
      }
      t = *n;
      ++count;
    }
    CHECK(count == 365 * 288 - 12);
    CHECK(longest == std::chrono::minutes{65});
    CHECK(respaldo::format_rfc3339_utc(longest_from) == "2026-11-01T05:55:00Z");
  }
}

TEST_CASE("cron in Europe/Berlin across daylight saving", "[cron]") {
  const auto* berlin = zone("Europe/Berlin");
  SECTION("midnight in winter and summer") {
    CHECK(next_utc("0 0 * * *", "2026-01-01T00:00:00Z", berlin) == "2026-01-01T23:00:00Z");
    CHECK(next_utc("0 0 * * *", "2026-07-01T00:00:00Z", berlin) == "2026-07-01T22:00:00Z");
    CHECK(next_utc("@weekly", "2026-01-01T00:00:00Z", berlin) == "2026-01-03T23:00:00Z");
  }
  SECTION("spring forward: 02:00-02:59 does not exist on 2026-03-29") {
    CHECK(next_utc("30 2 * * *", "2026-03-28T12:00:00Z", berlin) == "2026-03-29T01:00:00Z");
    CHECK(next_utc("0 3 * * *", "2026-03-28T12:00:00Z", berlin) == "2026-03-29T01:00:00Z");
    const auto s = cron_schedule::parse("0,30 2,3 * * *");
    REQUIRE(s.has_value());
    auto t = at("2026-03-29T00:00:00Z");
    std::vector<std::string> got;
    for (int i = 0; i < 3; ++i) {
      t = *s->next_after(t, berlin);
      got.push_back(respaldo::format_rfc3339_local(t, berlin));
    }
    CHECK(got == std::vector<std::string>{"2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00",
                                          "2026-03-30T02:00:00+02:00"});
  }
  SECTION("fall back: 02:00-02:59 occurs twice on 2026-10-25") {
    CHECK(next_utc("30 2 * * *", "2026-10-24T12:00:00Z", berlin) == "2026-10-25T00:30:00Z");
    CHECK(next_utc("30 2 * * *", "2026-10-25T00:30:00Z", berlin) == "2026-10-26T01:30:00Z");
    CHECK(next_utc("30 2 * * *", "2026-10-25T01:00:00Z", berlin) == "2026-10-26T01:30:00Z");
    CHECK(next_utc("0 3 * * *", "2026-10-25T00:30:00Z", berlin) == "2026-10-25T02:00:00Z");
  }
}

TEST_CASE("RFC 3339 formatting", "[cron]") {
  using respaldo::format_rfc3339_local;
  using respaldo::format_rfc3339_utc;
  CHECK(format_rfc3339_utc(sys_seconds{}) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339_utc(sys_seconds{std::chrono::seconds{-1}}) == "1969-12-31T23:59:59Z");
  CHECK(format_rfc3339_utc(at("2026-11-30T03:00:00Z")) == "2026-11-30T03:00:00Z");
  const auto t = at("2026-03-29T01:00:00Z");
  CHECK(format_rfc3339_local(t, zone("Europe/Berlin")) == "2026-03-29T03:00:00+02:00");
  CHECK(format_rfc3339_local(t, zone("America/New_York")) == "2026-03-28T21:00:00-04:00");
  CHECK(format_rfc3339_local(t, zone("Asia/Kathmandu")) == "2026-03-29T06:45:00+05:45");
  CHECK(format_rfc3339_local(t, zone("UTC")) == "2026-03-29T01:00:00+00:00");
  CHECK(format_rfc3339_local(t, nullptr) == "2026-03-29T01:00:00+00:00");
  // Local mean time of New York was -4:56:02; the printed offset keeps whole minutes only.
  const auto old = at("1800-01-01T00:00:00Z");
  const auto old_text = format_rfc3339_local(old, zone("America/New_York"));
  CHECK(old_text == "1799-12-31T19:04:00-04:56");
  CHECK(respaldo::parse_rfc3339(old_text) == old);
}

TEST_CASE("RFC 3339 parsing", "[cron]") {
  using respaldo::parse_rfc3339;
  const auto base = at("2026-03-29T01:00:00Z");
  CHECK(base.time_since_epoch().count() == 1774746000);
  CHECK(parse_rfc3339("2026-03-29T03:00:00+02:00") == base);
  CHECK(parse_rfc3339("2026-03-28T21:00:00-04:00") == base);
  CHECK(parse_rfc3339("2026-03-29T06:45:00+05:45") == base);
  CHECK(parse_rfc3339("2026-03-29T01:00:00-00:00") == base);
  CHECK(parse_rfc3339("2026-03-29t01:00:00z") == base);
  CHECK(parse_rfc3339("2026-03-29 01:00:00Z") == base);
  CHECK(parse_rfc3339("2026-03-29T01:00:00.999999999Z") == base);
  CHECK(parse_rfc3339("2026-03-29T03:00:00.5+02:00") == base);
  CHECK(parse_rfc3339("2028-02-29T00:00:00Z").has_value());
  CHECK(parse_rfc3339("1969-12-31T23:59:59Z") == sys_seconds{std::chrono::seconds{-1}});

  for (const char* bad : {"",
                          "2026-03-29",
                          "2026-03-29T01:00:00",
                          "2026-03-29T01:00Z",
                          "2026-02-29T00:00:00Z",
                          "2026-04-31T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-01T00:00:00Z",
                          "2026-01-00T00:00:00Z",
                          "2026-01-01T24:00:00Z",
                          "2026-01-01T00:60:00Z",
                          "2026-12-31T23:59:60Z",
                          "2026-01-01T00:00:00.Z",
                          "2026-01-01T00:00:00+0100",
                          "2026-01-01T00:00:00+01",
                          "2026-01-01T00:00:00+24:00",
                          "2026-01-01T00:00:00+01:60",
                          "2026-01-01T00:00:00Zjunk",
                          "2026-01-01T00:00:00Z ",
                          " 2026-01-01T00:00:00Z",
                          "26-01-01T00:00:00Z",
                          "2026-1-01T00:00:00Z",
                          "2026-01-01X00:00:00Z",
                          "2026/01/01T00:00:00Z",
                          "+2026-01-01T00:00:00Z",
                          "2026-01-01T00:00:00UTC"}) {
    INFO("\"" << bad << "\"");
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}

TEST_CASE("RFC 3339 round trips", "[cron]") {
  const auto* berlin = zone("Europe/Berlin");
  const auto* ny = zone("America/New_York");
  for (const char* text : {"2026-11-30T03:00:00Z", "2000-02-29T12:34:56Z", "1999-12-31T23:59:59Z",
                           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    INFO(text);
    const auto t = at(text);
    CHECK(respaldo::format_rfc3339_utc(t) == text);
  }
  // Every 15 minutes across both 2026 transitions of both zones.
  for (const char* start : {"2026-03-07T00:00:00Z", "2026-03-28T00:00:00Z", "2026-10-24T00:00:00Z",
                            "2026-10-31T00:00:00Z"}) {
    for (int i = 0; i < 4 * 48; ++i) {
      const auto t = at(start) + std::chrono::minutes{15 * i};
      for (const auto* tz : {berlin, ny}) {
        const auto text = respaldo::format_rfc3339_local(t, tz);
        INFO(text);
        CHECK(respaldo::parse_rfc3339(text) == t);
      }
    }
  }
}

TEST_CASE("time zone lookup", "[cron]") {
  using respaldo::find_time_zone;
  REQUIRE(find_time_zone("Europe/Berlin") != nullptr);
  CHECK(find_time_zone("Europe/Berlin")->name() == "Europe/Berlin");
  CHECK(find_time_zone("UTC") != nullptr);
  CHECK(find_time_zone("America/New_York") != nullptr);
  CHECK(find_time_zone("US/Eastern") != nullptr);
  CHECK(find_time_zone("") == nullptr);
  CHECK(find_time_zone("Mars/Olympus_Mons") == nullptr);
  CHECK(find_time_zone("europe/berlin") == nullptr);
  CHECK(find_time_zone("localtime") == nullptr);
  CHECK(find_time_zone("../../etc/passwd") == nullptr);
  CHECK(find_time_zone("/usr/share/zoneinfo/UTC") == nullptr);
}

// Found by the cron fuzz target: the offending text is quoted escaped in the message.
TEST_CASE("cron: errors escape control characters of the expression", "[cron]") {
  auto parsed = respaldo::cron_schedule::parse("0 2\x1b * * *");
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().message.find('\x1b') == std::string::npos);
  CHECK_THAT(parsed.error().message, Catch::Contains("\"2\\x1b\""));
}
