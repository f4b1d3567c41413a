// Cancellation is never lost: whichever phase a cancel arrives in, and whatever else stopped the
// job first, the job ends cancelled, and its stored cancel request survives every later write.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <catch2/catch.hpp>

#include "jobs/runner_fixture.hpp"

using namespace respaldo;
using respaldo::test::runner_fixture;

namespace {

job_record queue_backup(runner_fixture& f) {
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::backup, job_trigger::manual);
  REQUIRE(queued);
  return *queued;
}

}  // namespace

TEST_CASE("cancel: the request is stored at once and progress saves keep it", "[cancel]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.apps.apps["mi-app"].data = std::string(10000, 'x');
  f.apps.apps["mi-app"].stall_at = 100;
  f.runner.start();
  const auto queued = queue_backup(f);
  f.run_until([&] { return f.job(queued.id).phase == job_phase::uploading; });
  REQUIRE(f.runner.cancel(queued.id));
  // Before the job has even noticed, the row says so.
  auto row = f.job(queued.id);
  CHECK(row.cancel_requested);
  CHECK(row.state == job_state::running);
  CHECK(f.db->calls["request_job_cancel"] == 1);
  f.run_until([&] { return is_final(f.job(queued.id).state); });
  row = f.job(queued.id);
  CHECK(row.state == job_state::cancelled);
  CHECK(row.cancel_requested);
  CHECK(row.error_code == "cancelled");
  // The runner wrote progress through the column-wise call only, never the whole row.
  CHECK(f.db->calls["save_job_progress"] > 0);
  CHECK(f.db->calls["update_job"] == 0);
}

TEST_CASE("cancel: while storage publishes the backup, nothing is cataloged", "[cancel]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.runner.start();
  const auto queued = queue_backup(f);
  int fired = 0;
  f.backups.on_step = [&](std::string_view step) {
    if (step != "finish") return;
    ++fired;
    REQUIRE(f.runner.cancel(queued.id));
  };
  f.run_until([&] { return is_final(f.job(queued.id).state); });
  CHECK(fired == 1);
  auto job = f.job(queued.id);
  CHECK(job.state == job_state::cancelled);
  CHECK(job.error_code == "cancelled");
  CHECK(job.backup_id.empty());
  CHECK(f.catalog("mi-app").empty());
  CHECK(f.backups.objects.empty());  // published, then removed again
}

TEST_CASE("cancel: during pruning the job ends cancelled and keeps its backup", "[cancel]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.runner.start();
  const auto queued = queue_backup(f);
  int fired = 0;
  f.backups.on_step = [&](std::string_view step) {
    if (step != "list" || fired++ > 0) return;
    REQUIRE(f.runner.cancel(queued.id));
  };
  f.run_until([&] { return is_final(f.job(queued.id).state); });
  CHECK(fired == 1);
  auto job = f.job(queued.id);
  CHECK(job.state == job_state::cancelled);
  CHECK(job.error_code == "cancelled");
  CHECK(job.phase == job_phase::pruning);
  // The backup was verified and cataloged before the cancel: it stays, and the job names it.
  REQUIRE(f.catalog("mi-app").size() == 1);
  CHECK(job.backup_id == f.catalog("mi-app").front().id);
}

TEST_CASE("cancel: a cancel after a shutdown stopped the job wins over re-queuing", "[cancel]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.apps.apps["mi-app"].stall_at = 3;
  f.runner.start();
  const auto queued = queue_backup(f);
  f.run_until([&] { return f.job(queued.id).phase == job_phase::uploading; });
  auto stop = f.runner.shutdown(std::chrono::seconds(30));
  boost::asio::co_spawn(f.io, std::move(stop), boost::asio::detached);
  // Runs the shutdown until it waits for the job: the job is stopped but has not unwound yet.
  f.io.run_one();
  REQUIRE(f.runner.running_jobs() == 1);
  REQUIRE(f.runner.cancel(queued.id));
  f.run_until([&] { return f.runner.running_jobs() == 0; });
  auto job = f.job(queued.id);
  CHECK(job.state == job_state::cancelled);
  CHECK(job.error_code == "cancelled");
  CHECK(job.cancel_requested);
  CHECK(job.attempt == 1);
}

TEST_CASE("cancel: a queued job with a stored cancel request never starts", "[cancel]") {
  runner_fixture f;
  f.add_app("mi-app");
  f.add_app("other");
  f.runner.start();
  f.io.poll();
  // Stored by another writer after start-up recovery ran: the runner picks the job, then finds
  // the request when it records the start.
  job_record doomed;
  doomed.id = "doomed";
  doomed.app = "mi-app";
  doomed.cancel_requested = true;
  doomed.created_at = f.clock.now();
  REQUIRE(f.db->insert_job(doomed));
  auto other = f.runner.enqueue(*f.app("other"), job_kind::backup, job_trigger::manual);
  REQUIRE(other);
  f.run_until([&] { return is_final(f.job(other->id).state) && is_final(f.job("doomed").state); });
  auto job = f.job("doomed");
  CHECK(job.state == job_state::cancelled);
  CHECK(job.error_code == "cancelled");
  CHECK(job.attempt == 0);
  CHECK(f.apps.starts == 1);  // only the other app's export
  CHECK(f.job(other->id).state == job_state::succeeded);
}
