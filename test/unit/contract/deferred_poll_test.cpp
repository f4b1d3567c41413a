// The deferred export's waiting rule, stepped without a timer or a server.
#include "respaldo/contract/deferred_poll.hpp"

#include <date/date.h>

#include <catch2/catch.hpp>
#include <chrono>

namespace {

using namespace std::chrono_literals;
using respaldo::deferred_poll;
using std::chrono::milliseconds;

// "Sun, 06 Nov 1994 08:49:30 GMT"
std::chrono::system_clock::time_point fixed_now() {
  using namespace date;
  return sys_days(1994_y / November / 6) + 8h + 49min + 30s;
}

}  // namespace

TEST_CASE("202 without Retry-After waits the base delay, growing by 1.5x", "[deferred_poll]") {
  deferred_poll p(2000ms, 60'000ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 2000ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 3000ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 4500ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 6750ms);
  CHECK(p.base_delay() == 10'125ms);
}

TEST_CASE("the growth stops at poll_max", "[deferred_poll]") {
  deferred_poll p(40'000ms, 60'000ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 40'000ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 60'000ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 60'000ms);
}

TEST_CASE("Retry-After as delta-seconds replaces one wait, not the growth", "[deferred_poll]") {
  deferred_poll p(2000ms, 60'000ms);
  CHECK(p.next_delay("5", fixed_now()) == 5000ms);
  CHECK(p.next_delay(std::nullopt, fixed_now()) == 3000ms);  // grew behind the header
}

TEST_CASE("Retry-After as an HTTP-date waits until then", "[deferred_poll]") {
  deferred_poll p(2000ms, 60'000ms);
  CHECK(p.next_delay("Sun, 06 Nov 1994 08:49:37 GMT", fixed_now()) == 7000ms);
  // Already past: the floor.
  CHECK(p.next_delay("Sun, 06 Nov 1994 08:49:00 GMT", fixed_now()) == 100ms);
}

TEST_CASE("a malformed Retry-After falls back to the base delay", "[deferred_poll]") {
  deferred_poll p(2000ms, 60'000ms);
  CHECK(p.next_delay("soon", fixed_now()) == 2000ms);
  CHECK(p.next_delay("", fixed_now()) == 3000ms);
}

TEST_CASE("every wait is clamped to [100 ms, poll_max]", "[deferred_poll]") {
  SECTION("Retry-After: 0 and a tiny base delay hit the floor") {
    deferred_poll p(10ms, 60'000ms);
    CHECK(p.next_delay("0", fixed_now()) == 100ms);
    CHECK(p.next_delay(std::nullopt, fixed_now()) == 100ms);  // base 15 ms
  }
  SECTION("a day-long Retry-After is cut to poll_max") {
    deferred_poll p(2000ms, 30'000ms);
    CHECK(p.next_delay("86400", fixed_now()) == 30'000ms);
  }
  SECTION("a poll_max below the floor still waits the floor") {
    deferred_poll p(2000ms, 50ms);
    CHECK(p.next_delay(std::nullopt, fixed_now()) == 100ms);
    CHECK(p.next_delay("3", fixed_now()) == 100ms);
  }
}

// Found by fuzzing: years outside system_clock's nanosecond range (1678 to 2261) overflowed.
TEST_CASE("Retry-After dates far in the past or the future do not overflow", "[deferred_poll]") {
  using respaldo::parse_retry_after;
  CHECK(parse_retry_after("Sun, 03 Nov 0997 08:49:37 GMT", fixed_now()) == 0ms);
  // 9999 is beyond what a nanosecond time point holds; like delta-seconds, a date waits a day
  // at most (found by the time_parsers fuzz target: a date in 3988 asked for two millennia).
  CHECK(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", fixed_now()) == 24h);
  CHECK(parse_retry_after("Sun, 06 Nov 3988 08:49:37 GMT", fixed_now()) == 24h);
  CHECK(parse_retry_after("Mon, 07 Nov 1994 08:49:29 GMT", fixed_now()) == 24h - 1s);
  CHECK(parse_retry_after("172800", fixed_now()) == 24h);
  deferred_poll p(2000ms, 60'000ms);
  CHECK(p.next_delay("Fri, 31 Dec 9999 23:59:59 GMT", fixed_now()) == 60'000ms);
}
