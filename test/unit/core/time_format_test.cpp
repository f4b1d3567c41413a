// Timestamp formats of core/time_format.
#include "respaldo/core/time_format.hpp"

#include <catch2/catch.hpp>

TEST_CASE("compact UTC timestamps", "[time_format]") {
  CHECK(respaldo::compact_utc_timestamp(
            std::chrono::sys_seconds(std::chrono::seconds(1796007600))) == "20261130T030000Z");
  CHECK(respaldo::compact_utc_timestamp(std::chrono::sys_seconds{}) == "19700101T000000Z");
}
