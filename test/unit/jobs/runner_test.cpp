// The job runner against fakes of the store, storage and the app contract and a manual clock:
// backups, each failure class (the store's included), cancellation, deadline and shutdown.
#include "respaldo/jobs/runner.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <sstream>

#include "jobs/runner_fixture.hpp"

using namespace respaldo;
using namespace std::chrono_literals;
using respaldo::test::runner_fixture;

TEST_CASE("runner: a backup is stored, cataloged and its job succeeds", "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  int hooks = 0;
  f.runner.on_finished([&](const job_record& j) { hooks += j.state == job_state::succeeded; });
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  CHECK(job.state == job_state::succeeded);
  CHECK(job.attempt == 1);
  CHECK(job.phase == job_phase::pruning);
  CHECK(job.started_at == f.clock.now());
  CHECK(job.finished_at == f.clock.now());
  CHECK(hooks == 1);
  CHECK(f.apps.last_token == "app-token");  // unsealed for the contract client
  auto b = f.backup(job.backup_id);
  CHECK(b.size == f.apps.apps["mi-app"].data.size());
  CHECK(b.sha256 == sha256_hex(f.apps.apps["mi-app"].data));
  CHECK(b.job_id == job.id);
  CHECK(b.status == backup_status::available);
  REQUIRE(f.backups.objects.count(b.location) == 1);
  CHECK(f.backups.objects[b.location].bytes == f.apps.apps["mi-app"].data);
  CHECK(f.backups.aborted == 0);
}

TEST_CASE("runner: a checksum mismatch aborts the upload and catalogs nothing", "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.apps.apps["mi-app"].declared_sha256 = std::string(64, 'a');
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  CHECK(job.state == job_state::failed);
  CHECK(job.error_code == "checksum_mismatch");
  CHECK(job.backup_id.empty());
  CHECK(f.backups.objects.empty());
  CHECK(f.backups.aborted == 1);
  CHECK(f.catalog("mi-app").empty());
}

TEST_CASE("runner: a transient failure is retried after the backoff", "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.apps.apps["mi-app"].probe_failure =
      failure{make_error_code(errc::app_unreachable), "connection refused"};
  f.runner.start();
  auto job = f.run_until_attempted("mi-app", job_kind::backup);
  CHECK(job.state == job_state::queued);
  CHECK(job.attempt == 1);
  CHECK(job.error_code == "app_unreachable");
  CHECK(job.phase == job_phase::none);
  REQUIRE(job.next_attempt_at);
  // base 2 s, plus up to 25% jitter, rounded up to whole seconds
  CHECK(*job.next_attempt_at >= f.clock.now() + 2s);
  CHECK(*job.next_attempt_at <= f.clock.now() + 3s);
  CHECK_FALSE(job.finished_at);
}

TEST_CASE("runner: permanent failures end the job at once", "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  SECTION("the app refuses the token") {
    f.apps.apps["mi-app"].probe_failure =
        failure{make_error_code(errc::app_unauthorized), "401 from GET /backup/capabilities"};
    f.runner.start();
    auto job = f.run_job("mi-app", job_kind::backup);
    CHECK(job.state == job_state::failed);
    CHECK(job.error_code == "app_unauthorized");
    CHECK(job.error_message == "401 from GET /backup/capabilities");
    CHECK(f.apps.starts == 0);
  }
  SECTION("storage refuses the upload") {
    f.backups.fail_begin = true;
    f.runner.start();
    auto job = f.run_job("mi-app", job_kind::backup);
    CHECK(job.state == job_state::failed);
    CHECK(job.error_code == "storage_error");
    CHECK(job.error_message == "starting the upload failed: the fake storage refused");
  }
  CHECK(f.catalog("mi-app").empty());
}

TEST_CASE("runner: a broken export stream is retried with what broke", "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.apps.apps["mi-app"].data = std::string(10000, 'x');
  f.apps.apps["mi-app"].fail_at = 4096;
  f.runner.start();
  auto job = f.run_until_attempted("mi-app", job_kind::backup);
  CHECK(job.state == job_state::queued);
  CHECK(job.error_code == "app_export_failed");
  CHECK(job.error_message.find("the export stream broke after 4096 bytes") != std::string::npos);
  CHECK(job.error_message.find("(connection closed after 4096 body bytes)") != std::string::npos);
  CHECK(f.backups.aborted == 1);
  CHECK(f.backups.objects.empty());
}

TEST_CASE("runner: cancelling a running backup interrupts its stream", "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.apps.apps["mi-app"].data = std::string(10000, 'x');
  f.apps.apps["mi-app"].stall_at = 100;
  f.runner.start();
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::backup, job_trigger::manual);
  REQUIRE(queued);
  f.run_until([&] { return f.job(queued->id).bytes_done > 0 || f.runner.running_jobs() > 0; });
  f.run_until([&] { return f.job(queued->id).phase == job_phase::uploading; });
  auto cancelled = f.runner.cancel(queued->id);
  REQUIRE(cancelled);
  CHECK(cancelled->cancel_requested);
  f.run_until([&] { return is_final(f.job(queued->id).state); });
  auto job = f.job(queued->id);
  CHECK(job.state == job_state::cancelled);
  CHECK(job.error_code == "cancelled");
  CHECK(f.backups.aborted == 1);
  CHECK(f.catalog("mi-app").empty());
  // A finished job cannot be cancelled again.
  auto again = f.runner.cancel(queued->id);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == errc::conflict);
}

TEST_CASE("runner: the job deadline stops a stalled export", "[job_runner]") {
  runner_fixture f(std::chrono::milliseconds(200));
  f.add_app("mi-app");
  f.apps.apps["mi-app"].stall_at = 3;
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  CHECK(job.state == job_state::failed);
  CHECK(job.error_code == "job_deadline_exceeded");
  CHECK(job.error_message == "the job ran longer than --job-deadline (0s)");
  CHECK(f.backups.aborted == 1);
}

TEST_CASE("runner: shutdown interrupts a job, which keeps its attempt for the next start",
          "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.apps.apps["mi-app"].stall_at = 3;
  f.runner.start();
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::backup, job_trigger::manual);
  REQUIRE(queued);
  f.run_until([&] { return f.job(queued->id).phase == job_phase::uploading; });
  const auto before = std::chrono::steady_clock::now();
  test::run_with_deadline(f.io, f.runner.shutdown(std::chrono::seconds(30)));
  // Woken by the job's completion, not by the grace period.
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
  CHECK(f.runner.running_jobs() == 0);
  auto job = f.job(queued->id);
  CHECK(job.state == job_state::queued);
  CHECK(job.attempt == 0);
  CHECK(job.error_code == "interrupted");
  CHECK(job.next_attempt_at == f.clock.now());
}

TEST_CASE("runner: a store that cannot catalog the backup fails the job and keeps nothing",
          "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.db->fail_operation("insert_backup");
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  CHECK(job.state == job_state::failed);
  CHECK(job.error_code == "store_error");
  CHECK(job.error_message == "the backup was stored but could not be cataloged");
  CHECK(job.backup_id.empty());
  // The uploaded object was removed again: storage holds nothing the catalog does not know.
  CHECK(f.backups.objects.empty());
  CHECK(f.catalog("mi-app").empty());
  CHECK(f.db->calls["insert_backup"] == 1);
}

TEST_CASE("runner: a job the store cannot save is refused and never runs", "[job_runner]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.db->fail_operation("insert_job");
  f.runner.start();
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::backup, job_trigger::manual);
  REQUIRE_FALSE(queued);
  CHECK(queued.error().code == errc::store_error);
  CHECK(queued.error().message == "the job could not be saved");
  f.io.run_for(std::chrono::milliseconds(50));
  CHECK(f.runner.running_jobs() == 0);
  CHECK(f.apps.starts == 0);
  CHECK(f.backups.objects.empty());
  f.db->heal();
  job_filter all;
  CHECK(f.db->list_jobs(all)->empty());
}

TEST_CASE("runner: an X-Size above --max-backup-size fails before storage is asked",
          "[job_runner]") {
  auto options = test::fast_runner_options(std::chrono::hours(1));
  options.max_backup_size = 1000;
  runner_fixture f(options);
  f.add_app("big");
  f.add_app("fits");
  f.apps.apps["big"].data = std::string(1001, 'x');
  f.apps.apps["fits"].data = std::string(1000, 'x');
  f.runner.start();
  auto job = f.run_job("big", job_kind::backup);
  CHECK(job.state == job_state::failed);
  CHECK(job.attempt == 1);  // not retried: the same export is as large next time
  CHECK(job.error_code == "backup_too_large");
  CHECK(job.error_message ==
        "the app announced X-Size 1001 bytes, above --max-backup-size (1000 bytes); make the "
        "backup smaller or raise --max-backup-size");
  CHECK(job.bytes_total == 1001u);
  CHECK(f.backups.begun == 0);
  CHECK(f.catalog("big").empty());
  // Exactly the bound is accepted.
  CHECK(f.run_job("fits", job_kind::backup).state == job_state::succeeded);
  CHECK(f.backups.begun == 1);
}
