// What only the SQLite store has: the database file, its migrations, the bytes at rest and the
// time each call takes. The repository semantics are in store_contract_test.cpp.
#include "respaldo/store/sqlite/sqlite_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "store/store_records.hpp"
#include "support/temp_files.hpp"

namespace {

namespace fs = std::filesystem;
using namespace respaldo;
using namespace std::chrono_literals;

using namespace respaldo::test;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A store on a file in a temporary directory, with a log captured in memory.
struct fixture {
  temp_dir dir;
  secret_box box = test_box();
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  std::string db_path = dir.file("respaldo.db");

  std::unique_ptr<store> open() {
    auto s = make_sqlite_store(db_path, log);
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.has_value());
    return std::move(*s);
  }
};

}  // namespace

TEST_CASE("store creates and migrates a new database", "[store]") {
  fixture f;
  {
    auto s = f.open();
    CHECK(s->healthy());
  }
  CHECK_THAT(f.log_text.str(), Catch::Contains("store migrated"));
  SQLite::Database db(f.db_path, SQLite::OPEN_READWRITE);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == sqlite_schema_version);
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  for (const char* table : {"apps", "jobs", "backups"}) {
    INFO(table);
    CHECK(db.tableExists(table));
  }
}

TEST_CASE("store reopens an existing database without migrating again and keeps its data",
          "[store]") {
  fixture f;
  {
    auto s = f.open();
    REQUIRE(s->insert_app(make_app("mi-app")).has_value());
    auto j = make_job("j1", "mi-app");
    REQUIRE(s->insert_job(j).has_value());
    auto b = make_backup("b1", "mi-app");
    REQUIRE(s->insert_backup(b).has_value());
  }
  f.log_text.str("");
  auto s = f.open();
  CHECK_THAT(f.log_text.str(), !Catch::Contains("store migrated"));
  auto app = s->get_app("mi-app");
  REQUIRE(app.has_value());
  REQUIRE(app->has_value());
  CHECK(token_of(**app) == "secreto-compartido");
  CHECK((*app)->retention.daily == 7);
  auto job = s->get_job("j1");
  REQUIRE(job.has_value());
  REQUIRE(job->has_value());
  CHECK((*job)->app == "mi-app");
  auto backup = s->get_backup("b1");
  REQUIRE(backup.has_value());
  CHECK(backup->has_value());
}

TEST_CASE("store migrates a version 1 database to the current one, keeping its rows", "[store]") {
  fixture f;
  {
    auto s = f.open();
    REQUIRE(s->insert_app(make_app("mi-app")).has_value());
    auto b = make_backup("b1", "mi-app");
    REQUIRE(s->insert_backup(b).has_value());
  }
  {
    // What version 1 had: the same tables without the columns migration 2 adds.
    SQLite::Database db(f.db_path, SQLite::OPEN_READWRITE);
    for (const char* column : {"mismatch_at", "mismatch_size", "mismatch_sha256"})
      db.exec(std::string("ALTER TABLE backups DROP COLUMN ") + column);
    for (const char* column : {"last_verify_result", "last_verify_at", "last_verify_job",
                               "last_verify_backup", "stale_after", "stale_since"})
      db.exec(std::string("ALTER TABLE apps DROP COLUMN ") + column);
    db.exec("DROP TABLE deliveries");  // migration 3
    db.exec("DROP TABLE notifiers");
    db.exec("DROP TABLE drills");         // migration 5
    db.exec("DROP INDEX jobs_activity");  // migration 6
    db.exec("DROP INDEX backups_activity");
    db.exec("PRAGMA user_version = 1");
  }
  f.log_text.str("");
  auto s = f.open();
  CHECK_THAT(f.log_text.str(), Catch::Contains("store migrated") && Catch::Contains("2"));
  CHECK_THAT(f.log_text.str(), Catch::Contains("schema_version=3"));
  auto app = **s->get_app("mi-app");
  CHECK_FALSE(app.last_verify);
  auto b = **s->get_backup("b1");
  CHECK(b.status == backup_status::available);
  CHECK_FALSE(b.mismatch);
  b.status = backup_status::corrupt;
  b.mismatch = backup_mismatch{at(1'700'000'900), 1, std::string(64, 'e')};
  REQUIRE(s->update_backup(b).has_value());
  CHECK(s->get_backup("b1")->value().mismatch == b.mismatch);
  SQLite::Database db(f.db_path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == sqlite_schema_version);
}

TEST_CASE("store migrates a version 3 database to version 4: apps get stale_after", "[store]") {
  fixture f;
  {
    auto s = f.open();
    REQUIRE(s->insert_app(make_app("mi-app")).has_value());
  }
  {
    SQLite::Database db(f.db_path, SQLite::OPEN_READWRITE);
    for (const char* column : {"stale_after", "stale_since"})
      db.exec(std::string("ALTER TABLE apps DROP COLUMN ") + column);
    db.exec("DROP TABLE drills");         // migration 5
    db.exec("DROP INDEX jobs_activity");  // migration 6
    db.exec("DROP INDEX backups_activity");
    db.exec("PRAGMA user_version = 3");
  }
  f.log_text.str("");
  auto s = f.open();
  CHECK_THAT(f.log_text.str(), Catch::Contains("schema_version=4"));
  auto app = **s->get_app("mi-app");
  CHECK_FALSE(app.stale_after);
  CHECK_FALSE(app.stale_since);
  app.stale_after = 90min;
  REQUIRE(s->update_app(app).has_value());
  CHECK(s->get_app("mi-app")->value().stale_after == 90min);
}

TEST_CASE("store migrates a version 4 database to version 5: restore drills", "[store]") {
  fixture f;
  {
    auto s = f.open();
    REQUIRE(s->insert_app(make_app("mi-app")).has_value());
  }
  {
    SQLite::Database db(f.db_path, SQLite::OPEN_READWRITE);
    db.exec("DROP TABLE drills");
    db.exec("DROP INDEX jobs_activity");  // migration 6
    db.exec("DROP INDEX backups_activity");
    db.exec("PRAGMA user_version = 4");
  }
  f.log_text.str("");
  auto s = f.open();
  CHECK_THAT(f.log_text.str(), Catch::Contains("schema_version=5"));
  CHECK(s->get_app("mi-app")->has_value());
  drill_record d;
  d.id = "d1";
  d.backup_id = "b1";
  d.app = "mi-app";
  d.passed = true;
  REQUIRE(s->insert_drill(d).has_value());
  auto last = s->last_drill("mi-app", true);
  REQUIRE(last.has_value());
  CHECK(last->has_value());
}

TEST_CASE("store migrates a version 5 database to version 6: covering activity indexes",
          "[store]") {
  fixture f;
  {
    auto s = f.open();
    REQUIRE(s->insert_app(make_app("mi-app")).has_value());
  }
  {
    SQLite::Database db(f.db_path, SQLite::OPEN_READWRITE);
    db.exec("DROP INDEX jobs_activity");
    db.exec("DROP INDEX backups_activity");
    db.exec("PRAGMA user_version = 5");
  }
  f.log_text.str("");
  auto s = f.open();
  CHECK_THAT(f.log_text.str(), Catch::Contains("schema_version=6"));
  SQLite::Database db(f.db_path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                      "('jobs_activity', 'backups_activity')")
            .getInt() == 2);
  CHECK(s->app_activities("mi-app")->size() == 1);
}

TEST_CASE("store refuses a file that is not a database", "[store]") {
  fixture f;
  for (const std::string& content :
       {std::string("this is not a database\n") + std::string(4000, 'x'), std::string("junk")}) {
    INFO(content.size());
    {
      std::ofstream out(f.db_path, std::ios::binary | std::ios::trunc);
      out << content;
    }
    auto s = make_sqlite_store(f.db_path, f.log);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code == errc::store_not_a_database);
    CHECK_THAT(s.error().message,
               Catch::Contains(f.db_path) && Catch::Contains("not a SQLite database"));
    CHECK(read_all(f.db_path) == content);  // left untouched
  }
}

TEST_CASE("store refuses a schema newer than it knows", "[store]") {
  fixture f;
  {
    SQLite::Database db(f.db_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE future (x INTEGER)");
    db.exec("PRAGMA user_version = 99");
  }
  auto s = make_sqlite_store(f.db_path, f.log);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().code == errc::store_schema_too_new);
  CHECK_THAT(s.error().message,
             Catch::Contains("99") && Catch::Contains("newer") && Catch::Contains(f.db_path));
  // Nothing was changed: the version stays and no table of ours was created.
  SQLite::Database db(f.db_path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == 99);
  CHECK_FALSE(db.tableExists("apps"));
}

TEST_CASE("store reports an unusable path as a store error", "[store]") {
  fixture f;
  auto s = make_sqlite_store(f.dir.file("no-such-dir/respaldo.db"), f.log);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().code == errc::store_error);
  CHECK_THAT(s.error().message, Catch::Contains("no-such-dir"));
}

TEST_CASE("store seals app tokens at rest", "[store][sealing]") {
  fixture f;
  const std::string canary = "canary-token-Zq7vX2pL9kR4wT8y";
  {
    auto s = f.open();
    REQUIRE(s->insert_app(make_app("sealed", canary)).has_value());
    auto other = make_app("other", "first");
    REQUIRE(s->insert_app(other).has_value());
    set_token(other, canary + "-updated");
    REQUIRE(s->update_app(other).has_value());
    CHECK(token_of(**s->get_app("sealed")) == canary);
    CHECK(token_of(**s->get_app("other")) == canary + "-updated");
    // While open (WAL not yet checkpointed) no file holds the token either.
    for (const auto& entry : fs::directory_iterator(f.dir.path)) {
      INFO(entry.path());
      CHECK(read_all(entry.path().string()).find("Zq7vX2pL9kR4wT8y") == std::string::npos);
    }
  }
  bool any = false;
  for (const auto& entry : fs::directory_iterator(f.dir.path)) {
    INFO(entry.path());
    any = true;
    CHECK(read_all(entry.path().string()).find("Zq7vX2pL9kR4wT8y") == std::string::npos);
  }
  CHECK(any);

  SECTION("the column holds a sealed value bound to its row") {
    SQLite::Database db(f.db_path, SQLite::OPEN_READWRITE);
    const auto sealed =
        db.execAndGet("SELECT token_sealed FROM apps WHERE name = 'sealed'").getString();
    CHECK(sealed.rfind("v1.", 0) == 0);
    CHECK(f.box.open(sealed, "sealed") == canary);
    CHECK_FALSE(f.box.open(sealed, "other"));
    // Copying the sealed value to another row does not move the secret.
    SQLite::Statement copy(db, "UPDATE apps SET token_sealed = ? WHERE name = 'other'");
    copy.bind(1, sealed);
    copy.exec();
  }
  SECTION("another key leaves the apps visible with unusable tokens, and says so once") {
    // The store keeps tokens opaque; its callers open them through a token_seal.
    secret_box other_key = secret_box::generate();
    token_seal tokens(other_key, f.log);
    auto s = f.open();
    f.log_text.str("");
    auto got = s->get_app("sealed");
    REQUIRE(got.has_value());
    REQUIRE(got->has_value());
    CHECK_FALSE(tokens.open("sealed", (*got)->sealed_token));
    CHECK((*got)->url == "http://sealed:8000");
    (void)tokens.open("sealed", (**s->get_app("sealed")).sealed_token);
    for (const auto& a : *s->list_apps(10, "")) (void)tokens.open(a.name, a.sealed_token);
    const auto text = f.log_text.str();
    CHECK_THAT(text, Catch::Contains("cannot be opened"));
    // once per app
    auto count = [&](const std::string& needle) {
      std::size_t n = 0;
      for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
      return n;
    };
    CHECK(count("app=sealed") == 1);
    CHECK(count("app=other") == 1);
    CHECK(text.find(canary) == std::string::npos);
    // Saving the app (e.g. a probe result) while its token is unusable keeps the sealed token:
    // with the right key back, it opens again.
    auto touched = **got;
    touched.health.status = health_status::unreachable;
    REQUIRE(s->update_app(touched).has_value());
    {
      auto back = s->get_app("sealed");
      REQUIRE(back.has_value());
      REQUIRE(back->has_value());
      CHECK(token_of(**back) == canary);
      CHECK(to_string((*back)->health.status) == "unreachable");
    }
    // A new token under the new key works.
    auto app = **got;
    app.sealed_token = tokens.seal(app.name, "replacement");
    REQUIRE(s->update_app(app).has_value());
    CHECK(tokens.open("sealed", (**s->get_app("sealed")).sealed_token) == "replacement");
  }
  CHECK(f.log_text.str().find(canary) == std::string::npos);
}

TEST_CASE("store measures each call", "[store]") {
  fixture f;
  auto s = f.open();
  const auto before = s->stats().calls;
  REQUIRE(s->insert_app(make_app("m")).has_value());
  (void)s->get_app("m");
  (void)s->list_apps(10, "");
  CHECK(s->healthy());
  const auto& st = s->stats();
  CHECK(st.calls == before + 4);
  CHECK(st.total_ns > 0);
  CHECK(st.max_ns > 0);
  CHECK(st.max_ns <= st.total_ns);
}

// How long typical store calls hold the io_context thread, on a real file in the temp directory
// (WAL, synchronous=NORMAL: commits do not fsync). Prints p50/p99/max per call; the bounds
// asserted are loose on purpose (a loaded machine must not fail the suite), the figures are the
// point. Run alone with: unit_tests "[store-latency]" -s
TEST_CASE("store call latency on a real file", "[store][store-latency]") {
  fixture f;
  auto s = f.open();
  constexpr int n = 1000;
  for (int i = 0; i < 20; ++i) REQUIRE(s->insert_app(make_app("app-" + std::to_string(i))));

  struct series {
    const char* name;
    std::vector<double> us;
  };
  series insert_job{"insert_job", {}}, update_job{"update_job", {}}, get_app{"get_app", {}},
      get_job{"get_job", {}}, active_job{"active_job", {}}, list_jobs{"list_jobs(50)", {}};
  auto time_it = [](series& out, auto&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    out.us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  };
  for (int i = 0; i < n; ++i) {
    const std::string app = "app-" + std::to_string(i % 20);
    auto job = make_job("job-" + std::to_string(i), app);
    time_it(insert_job, [&] { REQUIRE(s->insert_job(job).has_value()); });
    job.state = job_state::running;
    job.phase = job_phase::exporting;
    job.bytes_done = static_cast<std::uint64_t>(i) * 1000;
    time_it(update_job, [&] { REQUIRE(s->update_job(job).has_value()); });
    time_it(get_app, [&] { REQUIRE(s->get_app(app)->has_value()); });
    time_it(get_job, [&] { REQUIRE(s->get_job(job.id)->has_value()); });
    time_it(active_job, [&] { REQUIRE(s->active_job(app, job_kind::backup).has_value()); });
    job_filter recent;
    time_it(list_jobs, [&] {
      REQUIRE(s->list_jobs(recent)->size() == static_cast<std::size_t>(std::min(i + 1, 50)));
    });
  }

  std::ostringstream report;
  report << "store call latency, " << n << " calls each, microseconds (p50 / p99 / max):\n";
  for (auto* sr : {&insert_job, &update_job, &get_app, &get_job, &active_job, &list_jobs}) {
    auto v = sr->us;
    std::sort(v.begin(), v.end());
    const double p50 = v[v.size() / 2];
    const double p99 = v[v.size() * 99 / 100];
    const double max = v.back();
    char line[160];
    std::snprintf(line, sizeof line, "  %-14s %9.1f %9.1f %9.1f\n", sr->name, p50, p99, max);
    report << line;
    INFO(sr->name);
    CHECK(p50 < 20'000.0);  // 20 ms: only a broken store is this slow at the median
  }
  report << "  store max (respaldo_store_call_seconds_max): "
         << static_cast<double>(s->stats().max_ns) / 1e3 << " us\n";
  std::cout << report.str();
}
