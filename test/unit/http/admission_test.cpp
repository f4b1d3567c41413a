// Connection admission stepped without sockets: the per-client cap, closing the longest-idle
// connection near the global cap, and refusal reports at most once an interval with a count.
#include "respaldo/http/admission.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using respaldo::admission_limits;
using respaldo::connection_admission;
using respaldo::refusal_reason;
using clock_type = std::chrono::steady_clock;

const clock_type::time_point t0{};

}  // namespace

TEST_CASE("each client address has its own cap below the global one", "[admission]") {
  connection_admission a(admission_limits{100, 3, 1min});
  for (int i = 0; i < 3; ++i) {
    auto v = a.admit("127.0.0.2", t0);
    REQUIRE(v.admitted);
    CHECK_FALSE(v.evict);
    CHECK_FALSE(v.report);
  }
  auto refused = a.admit("127.0.0.2", t0);
  CHECK_FALSE(refused.admitted);
  REQUIRE(refused.report);
  CHECK(refused.report->address == "127.0.0.2");
  CHECK(refused.report->reason == refusal_reason::client_limit);
  CHECK(refused.report->refused == 1);
  // Another address is not affected.
  CHECK(a.admit("127.0.0.1", t0).admitted);
  CHECK(a.open() == 4);
  CHECK(a.open_from("127.0.0.2") == 3);
}

TEST_CASE("a closed connection frees its address's slot", "[admission]") {
  connection_admission a(admission_limits{100, 1, 1min});
  auto first = a.admit("10.0.0.1", t0);
  REQUIRE(first.admitted);
  CHECK_FALSE(a.admit("10.0.0.1", t0).admitted);
  a.release(*first.admitted);
  CHECK(a.open_from("10.0.0.1") == 0);
  CHECK(a.admit("10.0.0.1", t0).admitted);
}

TEST_CASE("refusals are reported at most once an interval per address, with a count",
          "[admission]") {
  connection_admission a(admission_limits{100, 1, 1min});
  REQUIRE(a.admit("10.0.0.1", t0).admitted);
  auto first = a.admit("10.0.0.1", t0);
  REQUIRE(first.report);
  CHECK(first.report->refused == 1);
  for (int i = 0; i < 500; ++i) CHECK_FALSE(a.admit("10.0.0.1", t0 + 59s).report);
  // Another address gets its own report at once.
  REQUIRE(a.admit("10.0.0.9", t0 + 59s).admitted);
  auto other = a.admit("10.0.0.9", t0 + 59s);
  REQUIRE(other.report);
  CHECK(other.report->refused == 1);
  // Once the interval is over, the next refusal reports everything since the last report.
  auto later = a.admit("10.0.0.1", t0 + 60s);
  REQUIRE(later.report);
  CHECK(later.report->refused == 501);
  CHECK_FALSE(a.admit("10.0.0.1", t0 + 61s).report);
}

TEST_CASE("near the global cap the longest-idle connection is closed to make room", "[admission]") {
  // Cap 16: from 14 live connections on (an eighth of headroom) every admission evicts one.
  connection_admission a(admission_limits{16, 16, 1min});
  CHECK(a.eviction_threshold() == 14);
  std::vector<connection_admission::connection_id> ids;
  for (int i = 0; i < 14; ++i) {
    auto v = a.admit("10.0.0." + std::to_string(i), t0 + std::chrono::seconds(i));
    REQUIRE(v.admitted);
    CHECK_FALSE(v.evict);
    ids.push_back(*v.admitted);
  }
  // The oldest two are busy; the first idle one became idle again later than the third.
  a.set_busy(ids[0], true, t0 + 20s);
  a.set_busy(ids[1], true, t0 + 20s);
  a.set_busy(ids[2], true, t0 + 20s);
  a.set_busy(ids[2], false, t0 + 21s);
  auto v = a.admit("10.1.0.1", t0 + 30s);
  REQUIRE(v.admitted);
  REQUIRE(v.evict);
  CHECK(*v.evict == ids[3]);
  // An evicted connection is not chosen twice while it is closing.
  auto w = a.admit("10.1.0.2", t0 + 30s);
  REQUIRE(w.evict);
  CHECK(*w.evict == ids[4]);
  CHECK(a.open() == 16);
  a.release(ids[3]);
  a.release(ids[4]);
  CHECK(a.open() == 14);
}

TEST_CASE("only when every connection is busy is a new one refused at the global cap",
          "[admission]") {
  connection_admission a(admission_limits{8, 8, 1min});
  std::vector<connection_admission::connection_id> ids;
  for (int i = 0; i < 8; ++i) {
    auto v = a.admit("10.0.0." + std::to_string(i), t0);
    REQUIRE(v.admitted);
    ids.push_back(*v.admitted);
    a.set_busy(*v.admitted, true, t0);
  }
  auto refused = a.admit("10.9.9.9", t0);
  CHECK_FALSE(refused.admitted);
  CHECK_FALSE(refused.evict);
  REQUIRE(refused.report);
  CHECK(refused.report->reason == refusal_reason::global_limit);
  // One finishes its request and waits idle: the next newcomer replaces it.
  a.set_busy(ids[5], false, t0 + 1s);
  CHECK(a.idle(ids[5]));
  auto v = a.admit("10.9.9.9", t0 + 2s);
  CHECK(v.admitted);
  REQUIRE(v.evict);
  CHECK(*v.evict == ids[5]);
}
