// `respaldo status`: what makes an app stale, failing or unhealthy, and the worst-first order.
#include "respaldo/cli/status.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

namespace {

using respaldo::cli::app_condition;

boost::json::array apps(const char* text) {
  return boost::json::parse(text).as_array();
}

}  // namespace

TEST_CASE("status: apps sorted worst first, then by name, with every problem", "[cli]") {
  const auto rows = respaldo::cli::summarize_status(apps(R"([
    {"name": "fine", "stale": false, "up": true,
     "last_backup": {"state": "succeeded"},
     "last_success": {"finished_at": "2026-01-01T03:00:10Z", "size": 2048,
                      "duration_seconds": 10},
     "next_run_at": "2026-01-02T03:00:00Z"},
    {"name": "down", "stale": false, "up": false, "last_backup": null, "last_success": null},
    {"name": "broken", "stale": false, "up": true, "last_backup": {"state": "failed"}},
    {"name": "old", "stale": true, "up": false, "last_backup": {"state": "failed"}},
    {"name": "another-ok", "stale": false, "up": null, "last_backup": null}
  ])"));
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].name == "old");
  CHECK(rows[0].worst == app_condition::stale);
  CHECK(rows[0].problems == std::vector<app_condition>{app_condition::stale, app_condition::failing,
                                                       app_condition::unhealthy});
  CHECK(rows[1].name == "broken");
  CHECK(rows[1].worst == app_condition::failing);
  CHECK(rows[2].name == "down");
  CHECK(rows[2].worst == app_condition::unhealthy);
  // Never probed (up null) is not unhealthy.
  CHECK(rows[3].name == "another-ok");
  CHECK(rows[3].problems.empty());
  CHECK(rows[4].name == "fine");
  CHECK(rows[4].worst == app_condition::ok);
  CHECK(rows[4].last_success_at == "2026-01-01T03:00:10Z");
  CHECK(rows[4].next_run_at == "2026-01-02T03:00:00Z");
  CHECK(rows[4].last_size == 2048u);
  CHECK(rows[4].last_duration_seconds == 10);
}

TEST_CASE("status: a failure followed by a success is not failing", "[cli]") {
  const auto rows = respaldo::cli::summarize_status(
      apps(R"([{"name": "x", "stale": false, "up": true, "last_backup": {"state": "succeeded"}},
               "not an object"])"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].problems.empty());
  CHECK_FALSE(rows[0].last_size);
}
