// The catalog plan: how catalog entries (with their status and insertion order) become retention
// candidates, and how all_backups pages through the store.
#include "respaldo/plan/catalog.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "respaldo/store/store.hpp"
#include "support/fake_store.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace respaldo;
using namespace std::chrono_literals;
using reasons = std::vector<std::string>;

// 2025-06-18T02:00:00Z, a Wednesday.
constexpr std::int64_t base_time = 1'750'212'000;

backup_record entry(const std::string& id, std::int64_t seq, std::int64_t seconds,
                    backup_status status = backup_status::available) {
  backup_record b;
  b.id = id;
  b.seq = seq;
  b.app = "mi-app";
  b.created_at = sys_seconds{std::chrono::seconds{seconds}};
  b.status = status;
  return b;
}

retention_policy last(int n) {
  retention_policy p;
  p.last = n;
  return p;
}

const retention_decision& decision(const std::vector<retention_decision>& plan,
                                   const std::string& id) {
  for (const auto& d : plan)
    if (d.id == id) return d;
  FAIL("no decision for " << id);
  throw;  // not reached: FAIL throws
}

}  // namespace

TEST_CASE("catalog plan of an empty catalog is empty", "[catalog]") {
  CHECK(plan_catalog_retention({}, last(3), nullptr).empty());
}

TEST_CASE("catalog plan keeps the newest per policy, with backup ids and timestamps", "[catalog]") {
  const std::vector<backup_record> catalog = {entry("bk-c", 3, base_time + 7200),
                                              entry("bk-b", 2, base_time + 3600),
                                              entry("bk-a", 1, base_time)};
  const auto plan = plan_catalog_retention(catalog, last(2), nullptr);
  REQUIRE(plan.size() == 3);
  // One decision per entry, in catalog order, named by the backup id (not the order key).
  CHECK(plan[0].id == "bk-c");
  CHECK(plan[1].id == "bk-b");
  CHECK(plan[2].id == "bk-a");
  CHECK(plan[0].created_at == catalog[0].created_at);
  CHECK(plan[0].keep);
  CHECK(plan[0].reasons == reasons{"newest", "last 1"});
  CHECK(plan[1].keep);
  CHECK(plan[1].reasons == reasons{"last 2"});
  CHECK_FALSE(plan[2].keep);
  CHECK(plan[2].reasons.empty());
}

TEST_CASE("catalog plan leaves out entries already being deleted", "[catalog]") {
  const std::vector<backup_record> catalog = {
      entry("bk-new", 4, base_time + 300),
      entry("bk-gone", 3, base_time + 200, backup_status::deleting),
      entry("bk-old", 2, base_time + 100),
      entry("bk-gone2", 1, base_time, backup_status::deleting)};
  const auto plan = plan_catalog_retention(catalog, last(1), nullptr);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].id == "bk-new");
  CHECK(plan[0].keep);
  CHECK(plan[0].reasons == reasons{"newest", "last 1"});
  // The deleting entry counted for nothing: the one older than it is still the second.
  CHECK(plan[1].id == "bk-old");
  CHECK_FALSE(plan[1].keep);
}

TEST_CASE("catalog plan only of entries being deleted is empty", "[catalog]") {
  const std::vector<backup_record> catalog = {
      entry("x", 2, base_time, backup_status::deleting),
      entry("y", 1, base_time - 60, backup_status::deleting)};
  CHECK(plan_catalog_retention(catalog, last(1), nullptr).empty());
}

TEST_CASE("catalog plan never deletes a missing entry and counts it for no bucket", "[catalog]") {
  const std::vector<backup_record> catalog = {
      entry("bk-3", 3, base_time + 200),
      entry("bk-missing", 2, base_time + 100, backup_status::missing), entry("bk-1", 1, base_time)};
  SECTION("older than the newest available one") {
    const auto plan = plan_catalog_retention(catalog, last(2), nullptr);
    REQUIRE(plan.size() == 3);
    CHECK(decision(plan, "bk-3").reasons == reasons{"newest", "last 1"});
    const auto& missing = decision(plan, "bk-missing");
    CHECK(missing.keep);
    CHECK(missing.reasons == reasons{"missing-from-storage"});
    // The missing entry took no place among the last two.
    CHECK(decision(plan, "bk-1").keep);
    CHECK(decision(plan, "bk-1").reasons == reasons{"last 2"});
  }
  SECTION("with a rule that keeps one") {
    const auto plan = plan_catalog_retention(catalog, last(1), nullptr);
    CHECK(decision(plan, "bk-missing").keep);
    CHECK(decision(plan, "bk-missing").reasons == reasons{"missing-from-storage"});
    CHECK_FALSE(decision(plan, "bk-1").keep);
  }
  SECTION("newest of all") {
    const std::vector<backup_record> newest_missing = {
        entry("bk-m", 3, base_time + 200, backup_status::missing),
        entry("bk-2", 2, base_time + 100), entry("bk-1", 1, base_time)};
    const auto plan = plan_catalog_retention(newest_missing, last(1), nullptr);
    CHECK(decision(plan, "bk-m").keep);
    CHECK(decision(plan, "bk-m").reasons == reasons{"missing-from-storage"});
    CHECK(decision(plan, "bk-2").reasons == reasons{"newest", "last 1"});
    CHECK_FALSE(decision(plan, "bk-1").keep);
  }
  SECTION("when every entry is missing nothing is deleted") {
    const std::vector<backup_record> all_missing = {
        entry("m2", 2, base_time, backup_status::missing),
        entry("m1", 1, base_time - 60, backup_status::missing)};
    const auto plan = plan_catalog_retention(all_missing, last(1), nullptr);
    REQUIRE(plan.size() == 2);
    for (const auto& d : plan) {
      CHECK(d.keep);
      CHECK(d.reasons == reasons{"missing-from-storage"});
    }
  }
}

TEST_CASE("catalog plan never lets a corrupt backup take a good one's place", "[catalog]") {
  // The reproduced case: with {"last": 2} and the newest backup corrupt, both good ones stay.
  const std::vector<backup_record> catalog = {
      entry("bad", 3, base_time + 200, backup_status::corrupt), entry("good-2", 2, base_time + 100),
      entry("good-1", 1, base_time)};
  SECTION("last") {
    const auto plan = plan_catalog_retention(catalog, last(2), nullptr);
    REQUIRE(plan.size() == 3);
    CHECK(decision(plan, "bad").keep);
    CHECK(decision(plan, "bad").reasons == reasons{"corrupt"});
    CHECK(decision(plan, "good-2").reasons == reasons{"newest", "last 1"});
    CHECK(decision(plan, "good-1").keep);
    CHECK(decision(plan, "good-1").reasons == reasons{"last 2"});
  }
  SECTION("a bucket's pick is the newest good backup of that day") {
    retention_policy daily;
    daily.daily = 1;
    const auto plan = plan_catalog_retention(catalog, daily, nullptr);
    CHECK(decision(plan, "bad").reasons == reasons{"corrupt"});
    CHECK(decision(plan, "good-2").reasons == reasons{"newest", "daily 2025-06-18"});
    CHECK_FALSE(decision(plan, "good-1").keep);
  }
  SECTION("an old corrupt backup is kept, never deleted") {
    const std::vector<backup_record> old_bad = {
        entry("g3", 3, base_time + 200), entry("g2", 2, base_time + 100),
        entry("old-bad", 1, base_time, backup_status::corrupt)};
    const auto plan = plan_catalog_retention(old_bad, last(1), nullptr);
    CHECK(decision(plan, "old-bad").keep);
    CHECK(decision(plan, "old-bad").reasons == reasons{"corrupt"});
    CHECK_FALSE(decision(plan, "g2").keep);
  }
}

TEST_CASE("catalog plan counts an unverified backup for nothing and keeps it", "[catalog]") {
  const std::vector<backup_record> catalog = {
      entry("fresh", 3, base_time + 200, backup_status::unverified),
      entry("good-2", 2, base_time + 100), entry("good-1", 1, base_time)};
  const auto plan = plan_catalog_retention(catalog, last(2), nullptr);
  CHECK(decision(plan, "fresh").keep);
  CHECK(decision(plan, "fresh").reasons == reasons{"unverified"});
  CHECK(decision(plan, "good-2").reasons == reasons{"newest", "last 1"});
  CHECK(decision(plan, "good-1").reasons == reasons{"last 2"});
}

TEST_CASE("newest_good_backup skips entries that are not good", "[catalog]") {
  CHECK_FALSE(newest_good_backup({}));
  CHECK_FALSE(newest_good_backup({entry("m", 1, base_time, backup_status::missing),
                                  entry("c", 2, base_time, backup_status::corrupt)}));
  CHECK(newest_good_backup({entry("bad", 4, base_time + 300, backup_status::corrupt),
                            entry("unv", 3, base_time + 250, backup_status::unverified),
                            entry("good-2", 2, base_time + 100), entry("good-1", 1, base_time)}) ==
        "good-2");
  // The same second: the later insertion is the newer one.
  CHECK(newest_good_backup({entry("first", 1, base_time), entry("second", 2, base_time)}) ==
        "second");
}

TEST_CASE("catalog plan orders backups of the same second by insertion, not by id", "[catalog]") {
  // Ids are random: "aaa" sorts before "zzz", yet seq 10 was inserted after seq 9. A naive
  // string order of the seqs would also put "9" after "10".
  const std::vector<backup_record> catalog = {entry("aaa", 10, base_time),
                                              entry("zzz", 9, base_time)};
  const auto plan = plan_catalog_retention(catalog, last(1), nullptr);
  REQUIRE(plan.size() == 2);
  CHECK(decision(plan, "aaa").keep);
  CHECK(decision(plan, "aaa").reasons == reasons{"newest", "last 1"});
  CHECK_FALSE(decision(plan, "zzz").keep);

  const std::vector<backup_record> reversed = {entry("zzz", 10, base_time),
                                               entry("aaa", 9, base_time)};
  const auto plan2 = plan_catalog_retention(reversed, last(1), nullptr);
  CHECK(decision(plan2, "zzz").keep);
  CHECK_FALSE(decision(plan2, "aaa").keep);
}

TEST_CASE("catalog plan puts backups in the buckets of the given time zone", "[catalog]") {
  retention_policy daily;
  daily.daily = 2;
  // 02:00Z is still the 17th in New York (22:00 EDT); 20:00Z is the 18th there too.
  const std::vector<backup_record> catalog = {entry("evening", 2, base_time + 18 * 3600),
                                              entry("night", 1, base_time)};
  SECTION("UTC: one day, the older is deleted") {
    const auto plan = plan_catalog_retention(catalog, daily, nullptr);
    CHECK(decision(plan, "evening").reasons == reasons{"newest", "daily 2025-06-18"});
    CHECK_FALSE(decision(plan, "night").keep);
  }
  SECTION("New York: two days, both kept") {
    const auto plan = plan_catalog_retention(catalog, daily, date::locate_zone("America/New_York"));
    CHECK(decision(plan, "evening").reasons == reasons{"newest", "daily 2025-06-18"});
    CHECK(decision(plan, "night").keep);
    CHECK(decision(plan, "night").reasons == reasons{"daily 2025-06-17"});
  }
}

TEST_CASE("all_backups reads every page of one app, newest first", "[catalog]") {
  test::temp_dir dir("respaldo-catalog");
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::warn};
  auto opened = make_sqlite_store(dir.file("respaldo.db"), log);
  REQUIRE(opened.has_value());
  auto& db = **opened;

  SECTION("an app without backups") {
    auto all = all_backups(db, "nobody");
    REQUIRE(all.has_value());
    CHECK(all->empty());
  }
  SECTION("more than one page") {
    // Pages hold 1000 entries; 2001 makes three pages, the last with one entry.
    constexpr int count = 2001;
    for (int i = 0; i < count; ++i) {
      auto b = entry("bk-" + std::to_string(i), 0, base_time + i);
      b.storage = storage_kind::local;
      REQUIRE(db.insert_backup(b));
      auto other = entry("other-" + std::to_string(i), 0, base_time + i);
      other.app = "other-app";
      if (i < 3) REQUIRE(db.insert_backup(other));
    }
    auto all = all_backups(db, "mi-app");
    REQUIRE(all.has_value());
    REQUIRE(all->size() == count);
    CHECK(all->front().id == "bk-2000");
    CHECK(all->back().id == "bk-0");
    bool newest_first = true;
    for (std::size_t i = 1; i < all->size(); ++i)
      newest_first = newest_first && (*all)[i - 1].seq > (*all)[i].seq;
    CHECK(newest_first);
    CHECK(std::all_of(all->begin(), all->end(), [](const auto& b) { return b.app == "mi-app"; }));
  }
}

TEST_CASE("all_backups passes on the store's failure", "[catalog]") {
  test::fake_store db;
  for (int i = 0; i < 1500; ++i) {
    auto b = entry("bk-" + std::to_string(i), 0, base_time + i);
    REQUIRE(db.insert_backup(b));
  }
  SECTION("on the first page") {
    db.fail_operation("list_backups");
  }
  SECTION("on a later page") {
    db.fail_when = [&](std::string_view op) {
      return op == "list_backups" && db.calls["list_backups"] == 2;
    };
  }
  auto all = all_backups(db, "mi-app");
  REQUIRE_FALSE(all.has_value());
  CHECK(all.error().code == errc::store_error);
  CHECK_THAT(all.error().message, Catch::Contains("list_backups"));
}
