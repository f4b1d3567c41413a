// A job runner over fakes of the store, storage and the app contract and a manual clock; helpers
// run the io_context until a job gets somewhere.
#pragma once

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <sstream>

#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/jobs/runner.hpp"
#include "respaldo/plan/catalog.hpp"
#include "support/async_test.hpp"
#include "support/fake_contract.hpp"
#include "support/fake_storage.hpp"
#include "support/fake_store.hpp"
#include "support/manual_clock.hpp"

namespace respaldo::test {

inline runner_options fast_runner_options(std::chrono::milliseconds deadline) {
  runner_options o;
  o.retry = {std::chrono::seconds(2), std::chrono::seconds(60)};
  o.chunk_size = 4096;
  o.job_deadline = deadline;
  return o;
}

struct runner_fixture {
  secret_box box = secret_box::generate();
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  std::unique_ptr<fake_store> db = std::make_unique<fake_store>();
  token_seal tokens{box, log};
  metrics stats;
  boost::asio::io_context io;
  manual_clock clock{*parse_rfc3339("2026-12-01T03:00:00Z")};
  fake_storage backups;
  fake_contract apps;
  job_runner runner;

  explicit runner_fixture(std::chrono::milliseconds deadline = std::chrono::hours(1))
      : runner_fixture(fast_runner_options(deadline)) {}
  explicit runner_fixture(const runner_options& options)
      : runner(io.get_executor(), *db, tokens, backups, apps, clock, options, log, stats) {}

  void add_app(const std::string& name, retention_policy keep = {.last = 100}) {
    app_record a;
    a.name = name;
    a.url = "http://" + name + ".invalid:8080";
    a.sealed_token = tokens.seal(name, "app-token");
    a.drive_folder_id = "folder";
    a.retention = keep;
    a.created_at = a.updated_at = clock.now();
    REQUIRE(db->insert_app(a));
  }
  std::optional<app_record> app(const std::string& name) {
    auto a = db->get_app(name);
    REQUIRE(a);
    return *a;
  }
  job_record job(const std::string& id) {
    auto j = db->get_job(id);
    REQUIRE(j);
    REQUIRE(*j);
    return **j;
  }
  backup_record backup(const std::string& id) {
    auto b = db->get_backup(id);
    REQUIRE(b);
    REQUIRE(*b);
    return **b;
  }
  std::vector<backup_record> catalog(const std::string& app) {
    auto all = all_backups(*db, app);
    REQUIRE(all);
    return *all;
  }

  // Runs the io_context until `done` holds; fails the test after `limit`.
  void run_until(const std::function<bool()>& done,
                 std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= until) FAIL("the runner did not get there in time");
      io.run_one_for(std::chrono::milliseconds(20));
    }
  }
  // Queues a job and runs until it is final.
  job_record run_job(const std::string& app_name, job_kind kind) {
    auto queued = runner.enqueue(*app(app_name), kind, job_trigger::manual);
    REQUIRE(queued);
    run_until([&] { return is_final(job(queued->id).state); });
    return job(queued->id);
  }
  // Queues a job and runs until its first attempt has ended (final or queued for a retry).
  job_record run_until_attempted(const std::string& app_name, job_kind kind) {
    auto queued = runner.enqueue(*app(app_name), kind, job_trigger::manual);
    REQUIRE(queued);
    run_until([&] {
      auto j = job(queued->id);
      return j.attempt == 1 && j.state != job_state::running;
    });
    return job(queued->id);
  }
};

}  // namespace respaldo::test
