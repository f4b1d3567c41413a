#include "respaldo/schedule/prober.hpp"

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "respaldo/core/time_format.hpp"

using namespace respaldo;

namespace {

outcome<app_capabilities> failed(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
}

}  // namespace

TEST_CASE("health_from_probe: a good answer is ok with its capabilities", "[prober]") {
  app_capabilities caps;
  caps.version = "v1";
  caps.types = {"db", "files"};
  caps.est_seconds = 123;
  caps.est_size = 4096;
  const auto now = *parse_rfc3339("2026-06-01T12:00:00Z");
  auto h = health_from_probe(caps, now);
  CHECK(to_string(h.status) == "ok");
  CHECK(h.checked_at == now);
  CHECK(h.detail.empty());
  REQUIRE(h.capabilities);
  CHECK(boost::json::serialize(*h.capabilities) ==
        R"({"types":["db","files"],"est_seconds":123,"est_size":4096})");

  app_capabilities bare;
  bare.version = "v1";
  auto b = health_from_probe(bare, now);
  REQUIRE(b.capabilities);
  CHECK(boost::json::serialize(*b.capabilities) ==
        R"({"types":[],"est_seconds":null,"est_size":null})");
}

TEST_CASE("health_from_probe: failure codes map to the three unhealthy states", "[prober]") {
  const auto now = *parse_rfc3339("2026-06-01T12:00:00Z");
  struct row {
    errc code;
    const char* status;
  };
  const row rows[] = {
      {errc::app_unauthorized, "unauthorized"}, {errc::app_contract_violation, "invalid"},
      {errc::app_unreachable, "unreachable"},   {errc::app_timeout, "unreachable"},
      {errc::app_export_failed, "unreachable"},  // a 5xx answer
      {errc::tls_error, "unreachable"},         {errc::interrupted, "unreachable"},
  };
  for (const auto& r : rows) {
    auto h = health_from_probe(failed(r.code, "GET /backup/capabilities: what happened"), now);
    INFO(code_name(make_error_code(r.code)));
    CHECK(to_string(h.status) == r.status);
    CHECK(h.checked_at == now);
    CHECK(h.detail == "GET /backup/capabilities: what happened");
    CHECK_FALSE(h.capabilities);  // the caller keeps the last good ones
  }
}

TEST_CASE("health transitions: only a change between ok and failing is an event", "[prober]") {
  using hs = health_status;
  CHECK(health_transition(hs::ok, hs::unreachable) == event_kind::app_unhealthy);
  CHECK(health_transition(hs::unknown, hs::unauthorized) == event_kind::app_unhealthy);
  CHECK(health_transition(hs::ok, hs::invalid) == event_kind::app_unhealthy);
  CHECK(health_transition(hs::unreachable, hs::ok) == event_kind::app_healthy_again);
  CHECK(health_transition(hs::invalid, hs::ok) == event_kind::app_healthy_again);
  // No event: the same again, first success, one failure mode turning into another.
  CHECK_FALSE(health_transition(hs::ok, hs::ok));
  CHECK_FALSE(health_transition(hs::unknown, hs::ok));
  CHECK_FALSE(health_transition(hs::unreachable, hs::unreachable));
  CHECK_FALSE(health_transition(hs::unreachable, hs::unauthorized));
}
