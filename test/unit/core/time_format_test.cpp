// Timestamp formats of core/time_format.
#include "respaldo/core/time_format.hpp"

#include <catch2/catch.hpp>

TEST_CASE("compact UTC timestamps", "[time_format]") {
  CHECK(respaldo::compact_utc_timestamp(
            std::chrono::sys_seconds(std::chrono::seconds(1796007600))) == "20261130T030000Z");
  CHECK(respaldo::compact_utc_timestamp(std::chrono::sys_seconds{}) == "19700101T000000Z");
}

TEST_CASE("RFC 3339 timestamps, written by hand, read back", "[time_format]") {
  using std::chrono::seconds;
  using std::chrono::sys_seconds;
  CHECK(respaldo::format_rfc3339_utc(sys_seconds{}) == "1970-01-01T00:00:00Z");
  CHECK(respaldo::format_rfc3339_utc(sys_seconds(seconds(1796007600))) == "2026-11-30T03:00:00Z");
  CHECK(respaldo::format_rfc3339_utc(sys_seconds(seconds(951868799))) == "2000-02-29T23:59:59Z");
  CHECK(respaldo::format_rfc3339_utc(sys_seconds(seconds(253402300799))) == "9999-12-31T23:59:59Z");
  CHECK(respaldo::format_rfc3339_utc(sys_seconds(seconds(-1))) == "1969-12-31T23:59:59Z");
  for (long long t : {0LL, 1LL, 59LL, 86399LL, 951868800LL, 1796007600LL, 4102444800LL}) {
    const sys_seconds at{seconds(t)};
    const auto text = respaldo::format_rfc3339_utc(at);
    INFO(text);
    CHECK(text.size() == 20);
    CHECK(respaldo::parse_rfc3339(text) == at);
  }
}
