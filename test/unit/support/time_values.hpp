// Time values for tests, from text: an RFC 3339 instant and an IANA zone, failing the test when
// the text does not parse.
#pragma once

#include <catch2/catch.hpp>

#include "respaldo/core/time_format.hpp"

namespace respaldo::test {

inline sys_seconds utc(const char* text) {
  auto t = parse_rfc3339(text);
  REQUIRE(t);
  return *t;
}

inline const date::time_zone* zone(const char* name) {
  auto z = find_time_zone(name);
  REQUIRE(z != nullptr);
  return z;
}

}  // namespace respaldo::test
