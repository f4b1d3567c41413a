// Verify jobs through the runner: a match stamps the backup, a difference or a missing object
// fails with its own code, and cancelling interrupts the download.
#include "respaldo/jobs/verify_job.hpp"

#include <catch2/catch.hpp>

#include "jobs/runner_fixture.hpp"

using namespace respaldo;
using namespace std::chrono_literals;
using respaldo::test::runner_fixture;

namespace {

backup_record backed_up(runner_fixture& f) {
  f.add_app("mi-app");
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  REQUIRE(job.state == job_state::succeeded);
  f.clock.advance(3600s);
  return f.backup(job.backup_id);
}

}  // namespace

TEST_CASE("verify: reading the backup back stamps verified_at", "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  CHECK_FALSE(b.verified_at);
  auto job = f.run_job("mi-app", job_kind::verify);
  CHECK(job.state == job_state::succeeded);
  CHECK(job.phase == job_phase::verifying);
  CHECK(job.backup_id == b.id);
  CHECK(job.bytes_done == b.size);
  CHECK(f.backup(b.id).verified_at == f.clock.now());
}

TEST_CASE("verify: changed bytes in storage fail with verify_mismatch", "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  f.backups.objects[b.location].bytes[0] ^= 1;
  auto job = f.run_job("mi-app", job_kind::verify);
  CHECK(job.state == job_state::failed);
  CHECK(job.error_code == "verify_mismatch");
  CHECK(job.error_message.find("no longer matches its catalog entry") != std::string::npos);
  CHECK_FALSE(f.backup(b.id).verified_at);
}

TEST_CASE("verify: an object gone from storage marks the entry missing", "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  f.backups.objects.clear();
  auto job = f.run_job("mi-app", job_kind::verify);
  CHECK(job.state == job_state::failed);
  CHECK(job.error_code == "verify_missing");
  CHECK(job.error_message == "backup " + b.id + " (" + b.name + ") is missing from storage");
  CHECK(f.backup(b.id).status == backup_status::missing);
}

TEST_CASE("verify: an app without backups has nothing to verify", "[verify_job]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::verify);
  CHECK(job.state == job_state::failed);
  CHECK(job.error_code == "verify_missing");
  CHECK(job.error_message == "there is no backup of \"mi-app\" to verify");
}

TEST_CASE("verify: cancelling interrupts the download in flight", "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  f.backups.stall_downloads = true;
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::verify, job_trigger::manual);
  REQUIRE(queued);
  f.run_until([&] { return f.backups.download_stalled; });
  REQUIRE(f.runner.cancel(queued->id));
  f.run_until([&] { return is_final(f.job(queued->id).state); });
  auto job = f.job(queued->id);
  CHECK(job.state == job_state::cancelled);
  CHECK(job.error_code == "cancelled");
  CHECK(f.runner.running_jobs() == 0);
  CHECK_FALSE(f.backup(b.id).verified_at);
}
