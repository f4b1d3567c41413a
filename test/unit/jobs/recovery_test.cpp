// Start-up recovery of jobs a previous process left running.
#include "respaldo/jobs/recovery.hpp"

#include <catch2/catch.hpp>

#include "jobs/runner_fixture.hpp"

using namespace respaldo;
using respaldo::test::runner_fixture;

namespace {

job_record left_running(runner_fixture& f, int attempt, bool cancel_requested) {
  job_record j;
  j.id = "job-" + std::to_string(attempt) + (cancel_requested ? "c" : "");
  j.app = "mi-app";
  j.state = job_state::running;
  j.phase = job_phase::uploading;
  j.attempt = attempt;
  j.max_attempts = 3;
  j.cancel_requested = cancel_requested;
  j.created_at = f.clock.now();
  REQUIRE(f.db->insert_job(j));
  return j;
}

}  // namespace

TEST_CASE("recovery: interrupted jobs are queued again, failed or cancelled", "[recovery]") {
  runner_fixture f;
  f.add_app("mi-app");
  const auto again = left_running(f, 1, false);
  const auto last = left_running(f, 3, false);
  const auto cancelled = left_running(f, 2, true);
  job_context ctx{*f.db, f.tokens, f.backups, f.apps, f.clock, f.log, f.stats, {}, nullptr};

  auto finished = recover_interrupted_jobs(ctx);
  REQUIRE(finished.size() == 2);

  auto j = f.job(again.id);
  CHECK(j.state == job_state::queued);
  CHECK(j.phase == job_phase::none);
  CHECK(j.next_attempt_at == f.clock.now());
  CHECK(j.error_code == "interrupted");
  REQUIRE(j.warnings.size() == 1);
  CHECK(j.warnings[0] == "attempt 1 was interrupted: respaldo stopped while it ran");

  j = f.job(last.id);
  CHECK(j.state == job_state::failed);
  CHECK(j.finished_at == f.clock.now());
  CHECK(j.phase == job_phase::uploading);  // where it was when the process stopped

  j = f.job(cancelled.id);
  CHECK(j.state == job_state::cancelled);
  CHECK(j.error_code == "cancelled");

  // Nothing is left running, so a second pass has nothing to do.
  CHECK(recover_interrupted_jobs(ctx).empty());
}

TEST_CASE("recovery: a queued job with a cancel request ends cancelled, not run again",
          "[recovery]") {
  runner_fixture f;
  f.add_app("mi-app");
  job_record requeued;  // a shutdown queued it again after its cancel was stored
  requeued.id = "requeued";
  requeued.app = "mi-app";
  requeued.attempt = 1;
  requeued.next_attempt_at = f.clock.now();
  requeued.cancel_requested = true;
  requeued.created_at = f.clock.now();
  REQUIRE(f.db->insert_job(requeued));
  job_record plain = requeued;
  plain.id = "plain";
  plain.cancel_requested = false;
  REQUIRE(f.db->insert_job(plain));
  job_context ctx{*f.db, f.tokens, f.backups, f.apps, f.clock, f.log, f.stats, {}, nullptr};

  auto finished = recover_interrupted_jobs(ctx);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].id == "requeued");
  auto j = f.job("requeued");
  CHECK(j.state == job_state::cancelled);
  CHECK(j.error_code == "cancelled");
  CHECK(j.finished_at == f.clock.now());
  CHECK_FALSE(j.next_attempt_at);
  CHECK(f.job("plain").state == job_state::queued);
}

TEST_CASE("recovery: the runner's start resolves them and tells its hooks", "[recovery]") {
  runner_fixture f;
  f.add_app("mi-app");
  const auto last = left_running(f, 3, false);
  std::vector<std::string> told;
  f.runner.on_finished([&](const job_record& j) { told.push_back(j.id); });
  f.runner.start();
  CHECK(told == std::vector<std::string>{last.id});
  CHECK(f.job(last.id).state == job_state::failed);
}
