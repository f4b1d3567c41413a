// What every store backend adds up per app (app_activities) and the column-wise stale_since,
// run against SQLite and the fake.
#include <catch2/catch.hpp>

#include "store/store_backends.hpp"
#include "store/store_records.hpp"

namespace {

using namespace respaldo;
using namespace respaldo::test;

// A backup job that ended in `state`, started at `start` and running `seconds`.
job_record ended_job(const std::string& id, const std::string& app, job_state state,
                     std::int64_t start, std::int64_t seconds, std::uint64_t bytes = 0,
                     job_kind kind = job_kind::backup) {
  auto j = make_job(id, app, kind, state);
  j.started_at = at(start);
  j.finished_at = at(start + seconds);
  j.bytes_done = bytes;
  return j;
}

}  // namespace

TEMPLATE_TEST_CASE("store activity: counts, bytes, durations and the newest jobs per app",
                   "[store]", sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  REQUIRE(s->insert_app(make_app("a")).has_value());
  REQUIRE(s->insert_app(make_app("b")).has_value());
  std::vector<job_record> jobs = {
      ended_job("j1", "a", job_state::succeeded, 1'700'000'000, 10, 100),
      ended_job("j2", "a", job_state::succeeded, 1'700'001'000, 10, 250),
      ended_job("j3", "a", job_state::failed, 1'700'002'000, 3),
      ended_job("j4", "a", job_state::cancelled, 1'700'003'000, 1),
      ended_job("v1", "a", job_state::succeeded, 1'700'004'000, 5, 250, job_kind::verify),
      ended_job("v2", "a", job_state::failed, 1'700'005'000, 5, 0, job_kind::verify),
      make_job("j5", "a"),  // queued: not counted
      ended_job("j6", "gone", job_state::succeeded, 1'700'000'000, 10, 999),
  };
  for (auto& j : jobs) REQUIRE(s->insert_job(j).has_value());
  auto b1 = make_backup("b1", "a");
  b1.created_at = at(1'700'000'010);
  auto b2 = make_backup("b2", "a");
  b2.created_at = at(1'700'001'010);
  auto b3 = make_backup("b3", "a");
  b3.created_at = at(1'700'002'010);
  b3.status = backup_status::corrupt;  // newer, but not good
  for (auto* b : {&b1, &b2, &b3}) REQUIRE(s->insert_backup(*b).has_value());

  auto all = s->app_activities("");
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 2);  // "gone" is not registered
  const auto& a = (*all)[0];
  CHECK(a.app == "a");
  CHECK(a.backups_finished.at(job_state::succeeded) == 2);
  CHECK(a.backups_finished.at(job_state::failed) == 1);
  CHECK(a.backups_finished.at(job_state::cancelled) == 1);
  CHECK(a.bytes_succeeded == 350);
  CHECK(a.durations == std::map<std::int64_t, std::uint64_t>{{3, 1}, {10, 2}});
  REQUIRE(a.last_backup);
  CHECK(a.last_backup->id == "j3");
  REQUIRE(a.last_success);
  CHECK(a.last_success->id == "j2");
  CHECK(a.last_success->bytes_done == 250);
  CHECK(a.newest_good_backup_at == at(1'700'001'010));
  CHECK(a.stored.at(backup_status::available) == 2);
  CHECK(a.stored.at(backup_status::corrupt) == 1);
  CHECK(a.last_verify_success_at == at(1'700'004'005));

  const auto& b = (*all)[1];
  CHECK(b.app == "b");
  CHECK(b.backups_finished.empty());
  CHECK_FALSE(b.last_backup);
  CHECK_FALSE(b.newest_good_backup_at);

  auto one = s->app_activities("b");
  REQUIRE(one.has_value());
  REQUIRE(one->size() == 1);
  CHECK((*one)[0].app == "b");
  CHECK(s->app_activities("gone")->empty());
  REQUIRE(s->delete_app("a").has_value());
  CHECK(s->app_activities("")->size() == 1);
}

TEMPLATE_TEST_CASE("store activity of a range of names: a page of the app listing", "[store]",
                   sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  for (const char* name : {"a", "b", "c", "d"}) REQUIRE(s->insert_app(make_app(name)).has_value());
  std::vector<job_record> jobs = {
      ended_job("j1", "a", job_state::succeeded, 1'700'000'000, 10, 100),
      ended_job("j2", "b", job_state::succeeded, 1'700'001'000, 10, 200),
      ended_job("j3", "c", job_state::failed, 1'700'002'000, 3),
      ended_job("j4", "d", job_state::succeeded, 1'700'003'000, 1, 400),
  };
  for (auto& j : jobs) REQUIRE(s->insert_job(j).has_value());
  auto page = s->app_activities_between("b", "c");
  REQUIRE(page.has_value());
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].app == "b");
  CHECK((*page)[0].bytes_succeeded == 200);
  REQUIRE((*page)[0].last_success);
  CHECK((*page)[0].last_success->id == "j2");
  CHECK((*page)[1].app == "c");
  CHECK((*page)[1].backups_finished.at(job_state::failed) == 1);
  CHECK_FALSE((*page)[1].last_success);
  CHECK(s->app_activities_between("d", "d")->size() == 1);
  CHECK(s->app_activities_between("e", "z")->empty());
  CHECK(s->app_activities_between("", "")->empty());
}

TEMPLATE_TEST_CASE("store apps: stale_after round-trips, stale_since is written on its own",
                   "[store]", sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  auto a = make_app("s");
  a.stale_after = std::chrono::seconds(7200);
  a.stale_since = at(1'700'000'500);  // ignored: only set_app_stale_since writes it
  REQUIRE(s->insert_app(a).has_value());
  auto g = **s->get_app("s");
  CHECK(g.stale_after == std::chrono::seconds(7200));
  CHECK_FALSE(g.stale_since);

  REQUIRE(s->set_app_stale_since("s", at(1'700'000'900)).has_value());
  CHECK(s->get_app("s")->value().stale_since == at(1'700'000'900));
  // A full update (a PATCH, the scheduler) keeps it.
  g.stale_after.reset();
  g.url = "http://moved:8000";
  REQUIRE(s->update_app(g).has_value());
  g = **s->get_app("s");
  CHECK_FALSE(g.stale_after);
  CHECK(g.stale_since == at(1'700'000'900));
  REQUIRE(s->set_app_stale_since("s", std::nullopt).has_value());
  CHECK_FALSE(s->get_app("s")->value().stale_since);
  CHECK(s->set_app_stale_since("nobody", std::nullopt).error().code == errc::not_found);
}
