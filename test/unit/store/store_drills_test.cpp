// Restore drills in every store backend: round trip, newest first per backup, the newest (passed)
// drill per app, and a duplicate id refused.
#include <catch2/catch.hpp>
#include <string>

#include "store/store_backends.hpp"
#include "store/store_records.hpp"
#include "support/async_test.hpp"

namespace {

using namespace respaldo;
using namespace respaldo::test;

drill_record make_drill(const std::string& id, const std::string& backup, const std::string& app,
                        bool passed, std::int64_t when) {
  drill_record d;
  d.id = id;
  d.backup_id = backup;
  d.app = app;
  d.target = drill_target::postgres;
  d.passed = passed;
  d.reported_at = at(when);
  d.duration_ms = 12'345;
  d.tables = 4;
  d.rows = 500'123;
  d.error = passed ? "" : "pg_restore failed: exit status 1: ERROR: relation exists";
  return d;
}

}  // namespace

TEMPLATE_TEST_CASE("store drills: round trip, per backup newest first, last per app", "[store]",
                   sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  auto d1 = make_drill("d1", "b1", "a", true, 1'700'000'001);
  auto d2 = make_drill("d2", "b1", "a", false, 1'700'000'002);
  auto d3 = make_drill("d3", "b2", "other", true, 1'700'000'003);
  d3.target = drill_target::directory;
  d3.tables = 0;
  d3.rows = 0;
  d3.entries = 17;
  for (auto* d : {&d1, &d2, &d3}) {
    REQUIRE(s->insert_drill(*d));
    CHECK(d->seq > 0);
  }
  CHECK(d2.seq > d1.seq);

  auto dup = make_drill("d1", "b9", "a", true, 1);
  auto refused = s->insert_drill(dup);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::conflict);

  auto of_b1 = s->list_drills("b1", 10);
  REQUIRE(of_b1);
  REQUIRE(of_b1->size() == 2);
  CHECK((*of_b1)[0] == d2);
  CHECK((*of_b1)[1] == d1);
  auto one = s->list_drills("b1", 1);
  REQUIRE(one);
  CHECK(one->size() == 1);
  auto none = s->list_drills("nope", 10);
  REQUIRE(none);
  CHECK(none->empty());

  auto last = s->last_drill("a", false);
  REQUIRE(last);
  REQUIRE(*last);
  CHECK((*last)->id == "d2");
  auto last_passed = s->last_drill("a", true);
  REQUIRE(last_passed);
  REQUIRE(*last_passed);
  CHECK(**last_passed == d1);
  auto other = s->last_drill("other", true);
  REQUIRE(other);
  REQUIRE(*other);
  CHECK((*other)->entries == 17);
  CHECK((*other)->target == drill_target::directory);
  auto unknown = s->last_drill("ghost", false);
  REQUIRE(unknown);
  CHECK_FALSE(*unknown);
}
