// Verify jobs through the runner: a match stamps the backup, a difference or a missing object
// fails with its own code, and cancelling interrupts the download.
#include "respaldo/jobs/verify_job.hpp"

#include <catch2/catch.hpp>

#include "jobs/runner_fixture.hpp"
#include "respaldo/crypto/crypto.hpp"

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

TEST_CASE("verify: a mismatch marks the backup corrupt with both digests and the time",
          "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  f.backups.objects[b.location].bytes[0] ^= 1;
  const auto found = sha256_hex(f.backups.objects[b.location].bytes);
  auto job = f.run_job("mi-app", job_kind::verify);
  CHECK(job.error_code == "verify_mismatch");
  CHECK(job.error_message.find("marked corrupt") != std::string::npos);
  auto after = f.backup(b.id);
  CHECK(after.status == backup_status::corrupt);
  REQUIRE(after.mismatch);
  CHECK(after.mismatch->detected_at == f.clock.now());
  CHECK(after.mismatch->size == b.size);
  CHECK(after.mismatch->sha256 == found);
  CHECK(after.sha256 == b.sha256);  // the catalog's digest is kept beside the one found
  CHECK(f.log_text.str().find("marked corrupt") != std::string::npos);
}

TEST_CASE("verify: the app records each finished verification's result", "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  CHECK_FALSE(f.app("mi-app")->last_verify);
  auto passed = f.run_job("mi-app", job_kind::verify);
  auto last = f.app("mi-app")->last_verify;
  REQUIRE(last);
  CHECK(*last == app_verify{verify_result::passed, *passed.finished_at, passed.id, b.id});

  f.clock.advance(60s);
  f.backups.objects[b.location].bytes[1] ^= 1;
  auto corrupt = f.run_job("mi-app", job_kind::verify);
  last = f.app("mi-app")->last_verify;
  REQUIRE(last);
  CHECK(*last == app_verify{verify_result::corrupt, *corrupt.finished_at, corrupt.id, b.id});

  // Gone from storage: missing.
  f.clock.advance(60s);
  f.backups.objects.clear();
  auto gone = f.run_job("mi-app", job_kind::verify);
  CHECK(gone.error_code == "verify_missing");
  last = f.app("mi-app")->last_verify;
  REQUIRE(last);
  CHECK(*last == app_verify{verify_result::missing, *gone.finished_at, gone.id, b.id});
}

TEST_CASE("verify: a storage failure is recorded as failed, a cancellation not at all",
          "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  f.backups.fail_open = true;
  auto failed = f.run_job("mi-app", job_kind::verify);
  CHECK(failed.error_code == "storage_error");
  auto last = f.app("mi-app")->last_verify;
  REQUIRE(last);
  CHECK(last->result == verify_result::failed);
  CHECK(last->job_id == failed.id);
  CHECK(f.backup(b.id).status == backup_status::available);  // unknown: left as it was

  f.backups.fail_open = false;
  f.backups.stall_downloads = true;
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::verify, job_trigger::manual);
  REQUIRE(queued);
  f.run_until([&] { return f.backups.download_stalled; });
  REQUIRE(f.runner.cancel(queued->id));
  f.run_until([&] { return is_final(f.job(queued->id).state); });
  CHECK(f.job(queued->id).state == job_state::cancelled);
  CHECK(f.app("mi-app")->last_verify->job_id == failed.id);
}

TEST_CASE("verify: a manual verification checks the newest backup, a corrupt one included",
          "[verify_job]") {
  runner_fixture f;
  backed_up(f);
  auto newer_job = f.run_job("mi-app", job_kind::backup);
  REQUIRE(newer_job.state == job_state::succeeded);
  auto newer = f.backup(newer_job.backup_id);
  newer.status = backup_status::corrupt;
  REQUIRE(f.db->update_backup(newer));
  f.backups.objects[newer.location].bytes[0] ^= 1;
  auto job = f.run_job("mi-app", job_kind::verify);
  CHECK(job.error_code == "verify_mismatch");
  CHECK(job.backup_id == newer.id);
  CHECK(f.backup(newer.id).status == backup_status::corrupt);
}

TEST_CASE("verify: a job naming a backup verifies that one, and a match makes it available",
          "[verify_job]") {
  runner_fixture f;
  auto older = backed_up(f);
  auto newer_job = f.run_job("mi-app", job_kind::backup);
  auto newer = f.backup(newer_job.backup_id);
  older.status = backup_status::unverified;
  REQUIRE(f.db->update_backup(older));
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::verify, job_trigger::manual, older.id);
  REQUIRE(queued);
  f.run_until([&] { return is_final(f.job(queued->id).state); });
  auto job = f.job(queued->id);
  CHECK(job.state == job_state::succeeded);
  CHECK(job.backup_id == older.id);
  auto verified = f.backup(older.id);
  CHECK(verified.status == backup_status::available);
  CHECK(verified.verified_at == f.clock.now());
  CHECK_FALSE(f.backup(newer.id).verified_at);

  // A named backup deleted in the meantime: nothing to verify, said plainly.
  auto gone = f.runner.enqueue(*f.app("mi-app"), job_kind::verify, job_trigger::manual, "nope");
  REQUIRE(gone);
  f.run_until([&] { return is_final(f.job(gone->id).state); });
  CHECK(f.job(gone->id).error_code == "verify_missing");
  CHECK(f.job(gone->id).error_message.find("no longer in the catalog") != std::string::npos);
}

TEST_CASE("verify: a corrupt backup that reads back right again is available once more",
          "[verify_job]") {
  runner_fixture f;
  auto b = backed_up(f);
  b.status = backup_status::corrupt;
  b.mismatch = backup_mismatch{f.clock.now(), 1, std::string(64, 'e')};
  REQUIRE(f.db->update_backup(b));
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::verify, job_trigger::manual, b.id);
  REQUIRE(queued);
  f.run_until([&] { return is_final(f.job(queued->id).state); });
  CHECK(f.job(queued->id).state == job_state::succeeded);
  auto after = f.backup(b.id);
  CHECK(after.status == backup_status::available);
  CHECK_FALSE(after.mismatch);
}

TEST_CASE("verify: any backup but one being deleted may be picked by default", "[verify_job]") {
  CHECK(is_verifiable(backup_status::available));
  CHECK(is_verifiable(backup_status::unverified));
  CHECK(is_verifiable(backup_status::missing));
  CHECK(is_verifiable(backup_status::corrupt));
  CHECK_FALSE(is_verifiable(backup_status::deleting));
}

TEST_CASE("verify: a backup storage could not confirm is unverified and verified at once",
          "[verify_job]") {
  runner_fixture f;
  f.add_app("mi-app", {.last = 1});
  f.runner.start();
  auto good_job = f.run_job("mi-app", job_kind::backup);
  f.clock.advance(3600s);
  f.backups.unconfirmed_uploads = true;
  f.backups.fail_open = true;  // its first verification cannot read it: it stays unverified
  auto job = f.run_job("mi-app", job_kind::backup);
  CHECK(job.state == job_state::succeeded);
  REQUIRE(job.warnings.size() == 1);
  CHECK(job.warnings[0].find("cataloged unverified") != std::string::npos);
  CHECK(f.log_text.str().find("verify job queued") != std::string::npos);
  // The verify job was queued with the backup's id, to run as soon as the backup job was done.
  job_filter verifies;
  verifies.kind = job_kind::verify;
  auto queued = f.db->list_jobs(verifies);
  REQUIRE(queued);
  REQUIRE(queued->size() == 1);
  const auto verify_id = (*queued)[0].id;
  CHECK((*queued)[0].backup_id == job.backup_id);
  CHECK(job.warnings[0].find(verify_id) != std::string::npos);
  f.run_until([&] { return is_final(f.job(verify_id).state); });
  CHECK(f.job(verify_id).error_code == "storage_error");
  CHECK(f.backup(job.backup_id).status == backup_status::unverified);
  // The good backup is not pruned on account of the unverified one.
  CHECK(f.backup(good_job.backup_id).status == backup_status::available);
  f.clock.advance(3600s);
  f.backups.unconfirmed_uploads = false;
  f.backups.fail_open = false;
  auto third = f.run_job("mi-app", job_kind::backup);
  CHECK(f.backup(job.backup_id).status == backup_status::unverified);
  CHECK_FALSE(f.db->get_backup(good_job.backup_id).value());  // pruned by the policy now
  // Verified again, it is good like any other.
  auto again =
      f.runner.enqueue(*f.app("mi-app"), job_kind::verify, job_trigger::manual, job.backup_id);
  REQUIRE(again);
  f.run_until([&] { return is_final(f.job(again->id).state); });
  CHECK(f.job(again->id).state == job_state::succeeded);
  CHECK(f.backup(job.backup_id).status == backup_status::available);
  CHECK(f.catalog("mi-app").front().id == third.backup_id);
}

TEST_CASE("verify: a confirmed upload queues no verify job", "[verify_job]") {
  runner_fixture f;
  backed_up(f);
  job_filter verifies;
  verifies.kind = job_kind::verify;
  CHECK(f.db->list_jobs(verifies)->empty());
}
