// The column-wise job writes every store backend shares: each writer owns its columns, so a
// progress save never undoes a cancel request or a final state, whatever order they arrive in.
#include <catch2/catch.hpp>

#include "store/store_backends.hpp"
#include "store/store_records.hpp"

namespace {

using namespace respaldo;
using namespace respaldo::test;

job_record stored(store& s, const std::string& id) {
  auto got = s.get_job(id);
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  return **got;
}

// A queued job as the runner starts it.
job_record started(job_record j) {
  j.state = job_state::running;
  j.attempt += 1;
  j.phase = job_phase::probing;
  j.started_at = at(1'700'000'200);
  j.bytes_done = 0;
  j.error_code.clear();
  j.next_attempt_at.reset();
  return j;
}

}  // namespace

TEMPLATE_TEST_CASE("store job writes: start, progress, end and cancel own their columns",
                   "[store][job-writes]", sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  auto queued = make_job("j1", "a");
  queued.error_code = "app_unreachable";
  queued.next_attempt_at = at(1'700'000'150);
  REQUIRE(s->insert_job(queued).has_value());
  const auto running = started(queued);

  SECTION("starting an attempt makes it running and clears the previous error") {
    REQUIRE(s->start_job_attempt(running).has_value());
    auto g = stored(*s, "j1");
    CHECK(g.state == job_state::running);
    CHECK(g.attempt == 1);
    CHECK(g.phase == job_phase::probing);
    CHECK(g.started_at == at(1'700'000'200));
    CHECK(g.error_code.empty());
    CHECK_FALSE(g.next_attempt_at);
    // Only a queued job starts.
    CHECK(s->start_job_attempt(running).error().code == errc::conflict);
    CHECK(s->start_job_attempt(started(make_job("nope", "a"))).error().code == errc::not_found);
  }
  SECTION("a queued job with a cancel requested does not start") {
    REQUIRE(s->request_job_cancel("j1").has_value());
    auto refused = s->start_job_attempt(running);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::conflict);
    CHECK(refused.error().message.find("cancel requested") != std::string::npos);
    CHECK(stored(*s, "j1").state == job_state::queued);
  }
  SECTION("progress writes its columns and never clears a cancel request") {
    REQUIRE(s->start_job_attempt(running).has_value());
    auto cancel = s->request_job_cancel("j1");
    REQUIRE(cancel.has_value());
    CHECK(cancel->cancel_requested);
    CHECK(cancel->state == job_state::running);
    // The runner's copy still says no cancel and a stale state: neither is written.
    auto progress = running;
    progress.cancel_requested = false;
    progress.phase = job_phase::uploading;
    progress.bytes_done = 4096;
    progress.bytes_total = 8192;
    progress.resume = R"({"storage":"s"})";
    progress.warnings = {"slow"};
    progress.attempt = 7;
    REQUIRE(s->save_job_progress(progress).has_value());
    auto g = stored(*s, "j1");
    CHECK(g.cancel_requested);
    CHECK(g.state == job_state::running);
    CHECK(g.phase == job_phase::uploading);
    CHECK(g.bytes_done == 4096);
    CHECK(g.bytes_total == 8192u);
    CHECK(g.resume == R"({"storage":"s"})");
    CHECK(g.warnings == std::vector<std::string>{"slow"});
    CHECK(g.attempt == 1);  // the attempt is the start's and the end's to write
  }
  SECTION("progress after the end is refused and leaves the final state") {
    REQUIRE(s->start_job_attempt(running).has_value());
    auto ended = running;
    ended.state = job_state::cancelled;
    ended.error_code = "cancelled";
    ended.finished_at = at(1'700'000'300);
    REQUIRE(s->end_job_attempt(ended).has_value());
    auto late = running;
    late.bytes_done = 999;
    auto refused = s->save_job_progress(late);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::conflict);
    auto g = stored(*s, "j1");
    CHECK(g.state == job_state::cancelled);
    CHECK(g.bytes_done == 0);
    CHECK(s->save_job_progress(started(make_job("nope", "a"))).error().code == errc::not_found);
  }
  SECTION("the end keeps the cancel request and refuses to overwrite a final state") {
    REQUIRE(s->start_job_attempt(running).has_value());
    REQUIRE(s->request_job_cancel("j1").has_value());
    auto ended = running;
    ended.state = job_state::cancelled;
    ended.cancel_requested = false;
    ended.error_code = "cancelled";
    ended.error_message = "cancelled on request";
    ended.finished_at = at(1'700'000'300);
    ended.backup_id = "b1";
    REQUIRE(s->end_job_attempt(ended).has_value());
    auto g = stored(*s, "j1");
    CHECK(g.state == job_state::cancelled);
    CHECK(g.cancel_requested);
    CHECK(g.error_message == "cancelled on request");
    CHECK(g.finished_at == at(1'700'000'300));
    CHECK(g.backup_id == "b1");
    CHECK(g.app == "a");
    auto again = ended;
    again.state = job_state::succeeded;
    CHECK(s->end_job_attempt(again).error().code == errc::conflict);
    CHECK(stored(*s, "j1").state == job_state::cancelled);
    CHECK(s->end_job_attempt(make_job("nope", "a")).error().code == errc::not_found);
  }
  SECTION("a retry's end queues it again with its delay") {
    REQUIRE(s->start_job_attempt(running).has_value());
    auto retry = running;
    retry.state = job_state::queued;
    retry.phase = job_phase::none;
    retry.error_code = "app_timeout";
    retry.next_attempt_at = at(1'700'000'400);
    REQUIRE(s->end_job_attempt(retry).has_value());
    auto g = stored(*s, "j1");
    CHECK(g.state == job_state::queued);
    CHECK(g.next_attempt_at == at(1'700'000'400));
    CHECK(g.error_code == "app_timeout");
    CHECK(g.attempt == 1);
  }
  SECTION("a cancel request on a final job is a conflict naming its state") {
    auto done = make_job("j2", "a", job_kind::backup, job_state::succeeded);
    REQUIRE(s->insert_job(done).has_value());
    auto refused = s->request_job_cancel("j2");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::conflict);
    CHECK(refused.error().message.find("succeeded") != std::string::npos);
    CHECK_FALSE(stored(*s, "j2").cancel_requested);
    CHECK(s->request_job_cancel("nope").error().code == errc::not_found);
  }
}
