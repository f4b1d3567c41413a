// The events jobs publish through the event sink: one start and one final outcome per backup job
// (never one per retry), verify failures, storage quota and failed retention deletes.
#include <catch2/catch.hpp>

#include "jobs/runner_fixture.hpp"

using namespace respaldo;
using namespace std::chrono_literals;
using respaldo::test::runner_fixture;

namespace {

struct recording_sink final : event_sink {
  std::vector<event_record> events;
  void publish(const event_record& e) override { events.push_back(e); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.emplace_back(to_string(e.kind));
    return out;
  }
};

// Retries come due at once, so a job's attempts run back to back.
runner_options immediate_retries() {
  auto o = test::fast_runner_options(std::chrono::hours(1));
  o.retry = {0ms, 0ms};
  o.max_attempts = 3;
  return o;
}

}  // namespace

TEST_CASE("events: a successful backup publishes started and succeeded", "[job_runner][notify]") {
  runner_fixture f;
  recording_sink sink;
  f.runner.set_event_sink(&sink);
  f.add_app("mi-app");
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  REQUIRE(job.state == job_state::succeeded);
  CHECK(sink.names() == std::vector<std::string>{"backup.started", "backup.succeeded"});
  const auto& done = sink.events.back();
  CHECK(done.app == "mi-app");
  CHECK(done.job_id == job.id);
  CHECK(done.backup_id == job.backup_id);
  CHECK(done.error_code.empty());
  CHECK(done.finished_at == job.finished_at);
}

TEST_CASE("events: a job failing on every attempt publishes backup.failed once, at the end",
          "[job_runner][notify]") {
  runner_fixture f(immediate_retries());
  recording_sink sink;
  f.runner.set_event_sink(&sink);
  f.add_app("mi-app");
  f.apps.apps["mi-app"].probe_failure =
      failure{make_error_code(errc::app_unreachable), "connection refused"};
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  REQUIRE(job.state == job_state::failed);
  REQUIRE(job.attempt == 3);
  CHECK(sink.names() == std::vector<std::string>{"backup.started", "backup.failed"});
  CHECK(sink.events.back().error_code == "app_unreachable");
  CHECK(sink.events.back().error_message == "connection refused");
}

TEST_CASE("events: a full storage or Drive quota is a failure and a storage.quota event",
          "[job_runner][notify]") {
  runner_fixture f;
  recording_sink sink;
  f.runner.set_event_sink(&sink);
  f.add_app("mi-app");
  f.backups.fail_begin = true;
  const auto code = GENERATE(errc::storage_full, errc::drive_quota_exceeded);
  f.backups.begin_error = code;
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  REQUIRE(job.error_code == code_name(code));
  CHECK(sink.names() ==
        std::vector<std::string>{"backup.started", "backup.failed", "storage.quota"});
  CHECK(sink.events.back().error_code == code_name(code));
}

TEST_CASE("events: any other permanent failure is no storage.quota", "[job_runner][notify]") {
  runner_fixture f;
  recording_sink sink;
  f.runner.set_event_sink(&sink);
  f.add_app("mi-app");
  f.backups.fail_begin = true;  // storage_error
  f.runner.start();
  auto job = f.run_job("mi-app", job_kind::backup);
  REQUIRE(job.error_code == "storage_error");
  CHECK(sink.names() == std::vector<std::string>{"backup.started", "backup.failed"});
}

TEST_CASE("events: a cancelled job publishes no outcome", "[job_runner][notify]") {
  runner_fixture f;
  recording_sink sink;
  f.runner.set_event_sink(&sink);
  f.add_app("mi-app");
  auto queued = f.runner.enqueue(*f.app("mi-app"), job_kind::backup, job_trigger::manual);
  REQUIRE(queued);
  REQUIRE(f.runner.cancel(queued->id));
  f.runner.start();
  f.run_until([&] { return is_final(f.job(queued->id).state); });
  CHECK(sink.events.empty());
}

TEST_CASE("events: a failed retention delete publishes retention.delete_failed",
          "[job_runner][notify]") {
  runner_fixture f;
  recording_sink sink;
  f.runner.set_event_sink(&sink);
  f.add_app("mi-app", {.last = 1});
  f.runner.start();
  auto first = f.run_job("mi-app", job_kind::backup);
  const auto doomed = f.backup(first.backup_id);
  f.backups.fail_remove.insert(doomed.location);
  f.clock.advance(3600s);
  sink.events.clear();
  auto second = f.run_job("mi-app", job_kind::backup);
  REQUIRE(second.state == job_state::succeeded);
  REQUIRE(sink.names() == std::vector<std::string>{"backup.started", "retention.delete_failed",
                                                   "backup.succeeded"});
  const auto& e = sink.events[1];
  CHECK(e.app == "mi-app");
  CHECK(e.backup_id == doomed.id);
  CHECK(e.error_code == "storage_error");
  CHECK(e.error_message == "the fake storage refused");
}

TEST_CASE("events: a verify job finding a corrupt or missing backup publishes verify.failed",
          "[job_runner][notify]") {
  runner_fixture f;
  recording_sink sink;
  f.runner.set_event_sink(&sink);
  f.add_app("mi-app");
  f.runner.start();
  SECTION("nothing to verify") {
    auto job = f.run_job("mi-app", job_kind::verify);
    REQUIRE(job.error_code == "verify_missing");
    CHECK(sink.names() == std::vector<std::string>{"verify.failed"});
    CHECK(sink.events[0].job_id == job.id);
  }
  SECTION("other bytes in storage") {
    auto backup = f.run_job("mi-app", job_kind::backup);
    const auto b = f.backup(backup.backup_id);
    f.backups.objects[b.location].bytes = "tampered";
    sink.events.clear();
    auto job = f.run_job("mi-app", job_kind::verify);
    REQUIRE(job.error_code == "verify_mismatch");
    CHECK(sink.names() == std::vector<std::string>{"verify.failed"});
  }
  SECTION("a passed verification is no event") {
    f.run_job("mi-app", job_kind::backup);
    sink.events.clear();
    auto job = f.run_job("mi-app", job_kind::verify);
    REQUIRE(job.state == job_state::succeeded);
    CHECK(sink.events.empty());
  }
}
