// Retention after a backup: what the plan drops is deleted from storage, then the catalog; a
// failed delete stays cataloged as "deleting"; objects gone from storage are flagged missing.
#include "respaldo/jobs/retention_executor.hpp"

#include <catch2/catch.hpp>

#include "jobs/runner_fixture.hpp"

using namespace respaldo;
using namespace std::chrono_literals;
using respaldo::test::runner_fixture;

namespace {

std::vector<std::string> backup_three(runner_fixture& f) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto job = f.run_job("mi-app", job_kind::backup);
    REQUIRE(job.state == job_state::succeeded);
    ids.push_back(job.backup_id);
    f.clock.advance(3600s);
  }
  return ids;
}

}  // namespace

TEST_CASE("retention: keep-last deletes the oldest from storage and the catalog",
          "[retention_executor]") {
  runner_fixture f;
  f.add_app("mi-app", {.last = 2});
  f.runner.start();
  auto ids = backup_three(f);
  auto left = f.catalog("mi-app");
  REQUIRE(left.size() == 2);
  CHECK(left[0].id == ids[2]);
  CHECK(left[1].id == ids[1]);
  CHECK(f.backups.objects.size() == 2);
  CHECK(f.stats.render().find("respaldo_backups_pruned_total{storage=\"local\"} 1") !=
        std::string::npos);
}

TEST_CASE("retention: a failed delete stays cataloged as deleting and is retried",
          "[retention_executor]") {
  runner_fixture f;
  f.add_app("mi-app", {.last = 1});
  f.runner.start();
  auto first = f.run_job("mi-app", job_kind::backup);
  const auto doomed = f.backup(first.backup_id);
  f.backups.fail_remove.insert(doomed.location);
  f.clock.advance(3600s);
  auto second = f.run_job("mi-app", job_kind::backup);
  CHECK(second.state == job_state::succeeded);  // retention does not fail the backup
  auto b = f.backup(doomed.id);
  CHECK(b.status == backup_status::deleting);
  CHECK(b.delete_attempts == 1);
  CHECK(b.last_error == "the fake storage refused");
  CHECK(f.backups.objects.count(doomed.location) == 1);

  // The next run deletes it first.
  f.backups.fail_remove.clear();
  f.clock.advance(3600s);
  auto third = f.run_job("mi-app", job_kind::backup);
  CHECK(third.state == job_state::succeeded);
  CHECK_FALSE(f.db->get_backup(doomed.id).value());
  CHECK(f.backups.objects.count(doomed.location) == 0);
}

TEST_CASE("retention: an entry whose object vanished is flagged missing, not dropped",
          "[retention_executor]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.runner.start();
  auto first = f.run_job("mi-app", job_kind::backup);
  const auto gone = f.backup(first.backup_id);
  f.backups.objects.erase(gone.location);
  f.backups.objects["mi-app/stray.tar"] = {"x", "mi-app", "folder", "stray.tar"};
  f.clock.advance(3600s);
  auto second = f.run_job("mi-app", job_kind::backup);
  CHECK(second.state == job_state::succeeded);
  CHECK(f.backup(gone.id).status == backup_status::missing);
  CHECK(f.backup(second.backup_id).status == backup_status::available);
  // The stray object is reported, never deleted.
  CHECK(f.backups.objects.count("mi-app/stray.tar") == 1);
  CHECK(f.log_text.str().find("object in storage is not in the catalog") != std::string::npos);
}

TEST_CASE("retention: a storage listing failure leaves the catalog as it is",
          "[retention_executor]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.runner.start();
  auto first = f.run_job("mi-app", job_kind::backup);
  f.backups.objects.clear();
  f.backups.fail_list = true;
  auto second = f.run_job("mi-app", job_kind::backup);
  CHECK(second.state == job_state::succeeded);
  CHECK(f.backup(first.backup_id).status == backup_status::available);
  CHECK(f.log_text.str().find("could not list storage to reconcile the catalog") !=
        std::string::npos);
}

TEST_CASE("retention: a corrupt backup is kept and a good one is not pruned in its place",
          "[retention_executor]") {
  runner_fixture f;
  f.add_app("mi-app", {.last = 2});
  f.runner.start();
  auto ids = backup_three(f);  // the oldest is pruned already: ids[1] and ids[2] remain
  // The newest is found corrupt by a verification.
  f.backups.objects[f.backup(ids[2]).location].bytes[0] ^= 1;
  auto verify = f.run_job("mi-app", job_kind::verify);
  REQUIRE(verify.error_code == "verify_mismatch");
  REQUIRE(f.backup(ids[2]).status == backup_status::corrupt);
  auto fourth = f.run_job("mi-app", job_kind::backup);
  REQUIRE(fourth.state == job_state::succeeded);
  // Two good backups (the new one and ids[1]) plus the corrupt one, kept for inspection.
  auto left = f.catalog("mi-app");
  REQUIRE(left.size() == 3);
  CHECK(left[0].id == fourth.backup_id);
  CHECK(left[1].id == ids[2]);
  CHECK(left[1].status == backup_status::corrupt);
  CHECK(left[2].id == ids[1]);
  CHECK(f.backups.objects.count(f.backup(ids[2]).location) == 1);
}

TEST_CASE("retention: an unverified backup gone from storage is flagged missing",
          "[retention_executor]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.runner.start();
  auto first = f.run_job("mi-app", job_kind::backup);
  auto b = f.backup(first.backup_id);
  b.status = backup_status::unverified;
  REQUIRE(f.db->update_backup(b));
  f.backups.objects.erase(b.location);
  f.clock.advance(3600s);
  REQUIRE(f.run_job("mi-app", job_kind::backup).state == job_state::succeeded);
  CHECK(f.backup(b.id).status == backup_status::missing);
}

TEST_CASE("retention: remove_backup deletes storage first, then the catalog entry",
          "[retention_executor]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  const auto b = f.backup(job.backup_id);
  SECTION("deleted") {
    auto done = test::run_with_deadline(f.io, f.runner.remove_backup(b));
    REQUIRE(done);
    CHECK(f.backups.objects.count(b.location) == 0);
    CHECK_FALSE(f.db->get_backup(b.id).value());
    CHECK(f.stats.render().find("respaldo_backups_deleted_total{storage=\"local\"} 1") !=
          std::string::npos);
  }
  SECTION("already gone from storage: the entry goes too") {
    f.backups.objects.erase(b.location);
    REQUIRE(test::run_with_deadline(f.io, f.runner.remove_backup(b)));
    CHECK_FALSE(f.db->get_backup(b.id).value());
  }
  SECTION("storage refuses: the entry stays as it was") {
    f.backups.fail_remove.insert(b.location);
    auto done = test::run_with_deadline(f.io, f.runner.remove_backup(b));
    REQUIRE_FALSE(done);
    CHECK(done.error().code == errc::storage_error);
    CHECK(done.error().message.find("the fake storage refused") != std::string::npos);
    CHECK(f.backup(b.id).status == backup_status::available);
    CHECK(f.backups.objects.count(b.location) == 1);
  }
}
