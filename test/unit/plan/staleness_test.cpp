// Staleness: the default stale_after of a schedule and the stale decision, stepped with fixed
// times.
#include "respaldo/plan/staleness.hpp"

#include <catch2/catch.hpp>

#include "support/time_values.hpp"

namespace {

using namespace std::chrono_literals;
using respaldo::test::utc;
using respaldo::test::zone;

respaldo::cron_schedule cron(const char* expr) {
  auto c = respaldo::cron_schedule::parse(expr);
  REQUIRE(c.has_value());
  return *c;
}

std::chrono::seconds default_of(const char* expr, const date::time_zone* tz = nullptr,
                                std::optional<std::uint64_t> est = std::nullopt) {
  return respaldo::default_stale_after(cron(expr), tz, utc("2026-01-10T12:00:00Z"), est);
}

}  // namespace

TEST_CASE("default stale_after is twice the longest gap between fire times", "[staleness]") {
  CHECK(default_of("0 3 * * *") == 48h);
  CHECK(default_of("0 */2 * * *") == 4h);
  // Friday to Monday is the longest gap of a weekday schedule.
  CHECK(default_of("0 3 * * 1-5") == 144h);
  // 31-day months decide a monthly schedule.
  CHECK(default_of("0 0 1 * *") == std::chrono::days(62));
  // A leap-day schedule fires once in four years: its one gap is measured even so.
  CHECK(default_of("0 0 29 2 *") == std::chrono::days(2 * (366 + 3 * 365)));
}

TEST_CASE("default stale_after follows the schedule's zone across daylight saving", "[staleness]") {
  // 02:30 New York: on 2026-11-01 (fall back) the gap from the day before is 25 h.
  CHECK(default_of("30 2 * * *", zone("America/New_York")) == 50h);
  CHECK(default_of("30 2 * * *") == 48h);
}

TEST_CASE("default stale_after adds the app's estimate and never goes below an hour",
          "[staleness]") {
  CHECK(default_of("0 3 * * *", nullptr, 600) == 48h + 600s);
  CHECK(default_of("0 3 * * *", nullptr, 0) == 48h);
  CHECK(default_of("* * * * *") == 1h);
  CHECK(default_of("*/30 * * * *") == 1h);
  // Just above the floor, the estimate counts in full.
  CHECK(default_of("*/30 * * * *", nullptr, 1) == 1h + 1s);
  // An absurd estimate is capped instead of overflowing.
  CHECK(default_of("0 3 * * *", nullptr, UINT64_MAX) > std::chrono::days(36000));
}

TEST_CASE("an app is stale once its newest good backup is older than stale_after", "[staleness]") {
  const auto backup = utc("2026-03-01T03:00:00Z");
  const auto registered = utc("2026-01-01T00:00:00Z");
  auto at = [&](const char* now) {
    return respaldo::judge_staleness(backup, registered, 48h, utc(now));
  };
  CHECK_FALSE(at("2026-03-01T03:00:01Z").stale);
  CHECK_FALSE(at("2026-03-03T03:00:00Z").stale);  // exactly stale_after old: not yet
  CHECK(at("2026-03-03T03:00:01Z").stale);
  CHECK(at("2026-03-03T03:00:01Z").since == backup);
  CHECK(at("2026-03-03T03:00:01Z").stale_at == utc("2026-03-03T03:00:00Z"));
  // A newer backup makes it fresh again.
  CHECK_FALSE(respaldo::judge_staleness(utc("2026-03-03T03:00:00Z"), registered, 48h,
                                        utc("2026-03-03T03:00:01Z"))
                  .stale);
}

TEST_CASE("an app without a good backup is stale once stale_after has passed since registration",
          "[staleness]") {
  const auto registered = utc("2026-01-01T00:00:00Z");
  auto at = [&](const char* now) {
    return respaldo::judge_staleness(std::nullopt, registered, 2h, utc(now));
  };
  CHECK_FALSE(at("2026-01-01T01:59:59Z").stale);
  CHECK_FALSE(at("2026-01-01T02:00:00Z").stale);
  CHECK(at("2026-01-01T02:00:01Z").stale);
  CHECK(at("2026-01-01T02:00:01Z").since == registered);
}
