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
#include "support/temp_files.hpp"

namespace {

namespace fs = std::filesystem;
using namespace respaldo;
using namespace std::chrono_literals;

using respaldo::test::temp_dir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The key the tests seal app tokens with, as the store's callers do (crypto/token_seal.hpp).
const secret_box& test_box() {
  static const secret_box box = secret_box::generate();
  return box;
}
void set_token(app_record& a, const std::string& token) {
  a.token = token;
  a.sealed_token = test_box().seal(token, a.name);
}
std::string token_of(const app_record& a, const secret_box& box = test_box()) {
  return box.open(a.sealed_token, a.name).value_or("");
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

sys_seconds at(std::int64_t s) {
  return sys_seconds{std::chrono::seconds{s}};
}

app_record make_app(const std::string& name, const std::string& token = "secreto-compartido") {
  app_record a;
  a.name = name;
  a.url = "http://" + name + ":8000";
  set_token(a, token);
  a.drive_folder_id = "1AbC2dEfG3";
  a.schedule = "0 3 * * *";
  a.retention.daily = 7;
  a.retention.weekly = 4;
  a.created_at = at(1'700'000'000);
  a.updated_at = at(1'700'000'000);
  return a;
}

job_record make_job(const std::string& id, const std::string& app, job_kind kind = job_kind::backup,
                    job_state state = job_state::queued) {
  job_record j;
  j.id = id;
  j.app = app;
  j.kind = kind;
  j.state = state;
  j.created_at = at(1'700'000'100);
  return j;
}

backup_record make_backup(const std::string& id, const std::string& app) {
  backup_record b;
  b.id = id;
  b.app = app;
  b.job_id = "job-" + id;
  b.created_at = at(1'700'000'200);
  b.size = 12345;
  b.sha256 = std::string(64, 'a');
  b.format = "tar.gz";
  b.storage = storage_kind::local;
  b.location = app + "/" + id + ".tar.gz";
  b.name = id + ".tar.gz";
  b.folder = "1AbC2dEfG3";
  return b;
}

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

TEST_CASE("store apps: insert, get, list in name order, update, delete", "[store]") {
  fixture f;
  auto s = f.open();

  SECTION("round trip of every field") {
    auto a = make_app("full");
    a.timezone = "Europe/Madrid";
    a.verify_schedule = "0 5 * * 0";
    a.retention.monthly = 12;
    a.retention.yearly = 3;
    a.retention.last = 2;
    a.next_run_at = at(1'700'010'000);
    a.last_run_at = at(1'700'000'500);
    a.last_success_at = at(1'700'000'400);
    a.next_verify_at = at(1'700'020'000);
    a.health.status = health_status::ok;
    a.health.checked_at = at(1'700'000'600);
    a.health.detail = "fine";
    a.health.capabilities = boost::json::object{{"version", "v1"}, {"est_size", 100}};
    REQUIRE(s->insert_app(a).has_value());
    auto got = s->get_app("full");
    REQUIRE(got.has_value());
    REQUIRE(got->has_value());
    const auto& g = **got;
    CHECK(g.name == "full");
    CHECK(g.url == a.url);
    CHECK(token_of(g) == a.token);
    CHECK(g.drive_folder_id == a.drive_folder_id);
    CHECK(g.schedule == a.schedule);
    CHECK(g.timezone == "Europe/Madrid");
    CHECK(g.verify_schedule == "0 5 * * 0");
    CHECK(g.retention.daily == 7);
    CHECK(g.retention.weekly == 4);
    CHECK(g.retention.monthly == 12);
    CHECK(g.retention.yearly == 3);
    CHECK(g.retention.last == 2);
    CHECK(g.created_at == a.created_at);
    CHECK(g.updated_at == a.updated_at);
    CHECK(g.next_run_at == a.next_run_at);
    CHECK(g.last_run_at == a.last_run_at);
    CHECK(g.last_success_at == a.last_success_at);
    CHECK(g.next_verify_at == a.next_verify_at);
    CHECK(to_string(g.health.status) == "ok");
    CHECK(g.health.checked_at == a.health.checked_at);
    CHECK(g.health.detail == "fine");
    REQUIRE(g.health.capabilities);
    CHECK(g.health.capabilities->at("version").as_string() == "v1");
  }
  SECTION("missing app is an empty optional, not an error") {
    auto got = s->get_app("nobody");
    REQUIRE(got.has_value());
    CHECK_FALSE(got->has_value());
    auto exists = s->app_exists("nobody");
    REQUIRE(exists.has_value());
    CHECK_FALSE(*exists);
  }
  SECTION("duplicate name is a conflict and keeps the first") {
    REQUIRE(s->insert_app(make_app("dup", "first-token")).has_value());
    CHECK(s->insert_app(make_app("dup", "second-token")).error().code == errc::conflict);
    CHECK(token_of(**s->get_app("dup")) == "first-token");
  }
  SECTION("list pages by name with an exclusive cursor") {
    for (const char* n : {"delta", "alpha", "echo", "charlie", "bravo"})
      REQUIRE(s->insert_app(make_app(n)).has_value());
    auto page = s->list_apps(2, "");
    REQUIRE(page.has_value());
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].name == "alpha");
    CHECK((*page)[1].name == "bravo");
    page = s->list_apps(2, "bravo");
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].name == "charlie");
    CHECK((*page)[1].name == "delta");
    page = s->list_apps(2, "delta");
    REQUIRE(page->size() == 1);
    CHECK((*page)[0].name == "echo");
    CHECK(s->list_apps(2, "echo")->empty());
    CHECK(s->list_apps(100, "")->size() == 5);
    // A cursor between names works too (the name was deleted meanwhile).
    page = s->list_apps(10, "c");
    REQUIRE(page->size() == 3);
    CHECK((*page)[0].name == "charlie");
  }
  SECTION("update replaces fields; missing app is not_found") {
    auto a = make_app("upd");
    REQUIRE(s->insert_app(a).has_value());
    a.url = "https://elsewhere:9443";
    set_token(a, "new-token");
    a.retention.daily = 1;
    a.next_run_at = at(1'800'000'000);
    REQUIRE(s->update_app(a).has_value());
    auto g = **s->get_app("upd");
    CHECK(g.url == "https://elsewhere:9443");
    CHECK(token_of(g) == "new-token");
    CHECK(g.retention.daily == 1);
    CHECK(g.next_run_at == at(1'800'000'000));
    a.next_run_at.reset();
    REQUIRE(s->update_app(a).has_value());
    CHECK_FALSE((*s->get_app("upd"))->next_run_at);
    CHECK(s->update_app(make_app("ghost")).error().code == errc::not_found);
    CHECK_FALSE(*s->app_exists("ghost"));
  }
  SECTION("delete removes the app but not its catalog") {
    REQUIRE(s->insert_app(make_app("gone")).has_value());
    auto b = make_backup("gb1", "gone");
    REQUIRE(s->insert_backup(b).has_value());
    REQUIRE(s->delete_app("gone").has_value());
    CHECK_FALSE(s->get_app("gone")->has_value());
    CHECK_FALSE(*s->app_exists("gone"));
    CHECK(s->delete_app("gone").error().code == errc::not_found);
    auto left = s->list_backups("gone", 10, std::nullopt);
    REQUIRE(left.has_value());
    CHECK(left->size() == 1);
  }
}

TEST_CASE("store jobs: sequence, filters, newest first, active job", "[store]") {
  fixture f;
  auto s = f.open();

  std::vector<job_record> jobs = {
      make_job("j1", "a", job_kind::backup, job_state::succeeded),
      make_job("j2", "b", job_kind::backup, job_state::queued),
      make_job("j3", "a", job_kind::verify, job_state::running),
      make_job("j4", "a", job_kind::backup, job_state::failed),
      make_job("j5", "a", job_kind::backup, job_state::queued),
      make_job("j6", "a", job_kind::backup, job_state::running),
  };
  std::int64_t last_seq = 0;
  for (auto& j : jobs) {
    REQUIRE(s->insert_job(j).has_value());
    CHECK(j.seq > last_seq);
    last_seq = j.seq;
  }

  SECTION("round trip of every field") {
    auto j = make_job("full", "a");
    j.trigger = job_trigger::schedule;
    j.phase = job_phase::uploading;
    j.bytes_done = 5'000'000'000ull;
    j.bytes_total = 6'000'000'000ull;
    j.attempt = 2;
    j.max_attempts = 5;
    j.started_at = at(1'700'000'300);
    j.next_attempt_at = at(1'700'000'900);
    j.error_code = "app_unreachable";
    j.error_message = "connect refused";
    j.backup_id = "b9";
    j.warnings = {"first", "second \"quoted\""};
    j.resume = R"({"session":"x"})";
    j.cancel_requested = true;
    REQUIRE(s->insert_job(j).has_value());
    auto g = **s->get_job("full");
    CHECK(g.seq == j.seq);
    CHECK(to_string(g.trigger) == "schedule");
    CHECK(g.state == job_state::queued);
    CHECK(to_string(g.phase) == "uploading");
    CHECK(g.bytes_done == 5'000'000'000ull);
    CHECK(g.bytes_total == 6'000'000'000ull);
    CHECK(g.attempt == 2);
    CHECK(g.max_attempts == 5);
    CHECK(g.created_at == j.created_at);
    CHECK(g.started_at == j.started_at);
    CHECK_FALSE(g.finished_at);
    CHECK(g.next_attempt_at == j.next_attempt_at);
    CHECK(g.error_code == "app_unreachable");
    CHECK(g.error_message == "connect refused");
    CHECK(g.backup_id == "b9");
    CHECK(g.warnings == std::vector<std::string>{"first", "second \"quoted\""});
    CHECK(g.resume == R"({"session":"x"})");
    CHECK(g.cancel_requested);
  }
  SECTION("duplicate id is a conflict") {
    auto dup = make_job("j1", "z");
    CHECK(s->insert_job(dup).error().code == errc::conflict);
    CHECK((*s->get_job("j1"))->app == "a");
  }
  SECTION("update and not_found") {
    auto j = **s->get_job("j5");
    j.state = job_state::running;
    j.phase = job_phase::exporting;
    j.bytes_done = 42;
    j.started_at = at(1'700'000'500);
    REQUIRE(s->update_job(j).has_value());
    auto g = **s->get_job("j5");
    CHECK(g.state == job_state::running);
    CHECK(to_string(g.phase) == "exporting");
    CHECK(g.bytes_done == 42);
    CHECK(g.started_at == at(1'700'000'500));
    CHECK(s->update_job(make_job("nope", "a")).error().code == errc::not_found);
    CHECK_FALSE(s->get_job("nope")->has_value());
  }
  SECTION("list newest first with filters and a seq cursor") {
    job_filter all;
    auto page = s->list_jobs(all);
    REQUIRE(page.has_value());
    REQUIRE(page->size() == 6);
    CHECK(page->front().id == "j6");
    CHECK(page->back().id == "j1");

    job_filter by_app;
    by_app.app = "a";
    by_app.limit = 2;
    page = s->list_jobs(by_app);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "j6");
    CHECK((*page)[1].id == "j5");
    by_app.before_seq = (*page)[1].seq;
    page = s->list_jobs(by_app);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "j4");
    CHECK((*page)[1].id == "j3");
    by_app.before_seq = (*page)[1].seq;
    page = s->list_jobs(by_app);
    REQUIRE(page->size() == 1);
    CHECK((*page)[0].id == "j1");

    job_filter queued;
    queued.state = job_state::queued;
    page = s->list_jobs(queued);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "j5");
    CHECK((*page)[1].id == "j2");

    job_filter verify;
    verify.kind = job_kind::verify;
    page = s->list_jobs(verify);
    REQUIRE(page->size() == 1);
    CHECK((*page)[0].id == "j3");

    job_filter none;
    none.app = "a";
    none.state = job_state::cancelled;
    CHECK(s->list_jobs(none)->empty());
  }
  SECTION("active job is the oldest queued or running one of that app and kind") {
    auto active = s->active_job("a", job_kind::backup);
    REQUIRE(active.has_value());
    REQUIRE(active->has_value());
    CHECK((*active)->id == "j5");
    active = s->active_job("a", job_kind::verify);
    REQUIRE(active->has_value());
    CHECK((*active)->id == "j3");
    active = s->active_job("b", job_kind::verify);
    REQUIRE(active.has_value());
    CHECK_FALSE(active->has_value());
    // Once finished, the next one is active.
    auto j5 = **s->get_job("j5");
    j5.state = job_state::cancelled;
    REQUIRE(s->update_job(j5).has_value());
    CHECK((*s->active_job("a", job_kind::backup))->id == "j6");
  }
  SECTION("jobs in a state, oldest first") {
    auto running = s->jobs_in_state(job_state::running);
    REQUIRE(running.has_value());
    REQUIRE(running->size() == 2);
    CHECK((*running)[0].id == "j3");
    CHECK((*running)[1].id == "j6");
  }
}

TEST_CASE("store backups: catalog round trip, newest first, statuses", "[store]") {
  fixture f;
  auto s = f.open();
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    auto b = make_backup("b" + std::to_string(i), i == 3 ? "other" : "a");
    b.created_at = at(1'700'000'000 + i);
    if (i == 2) b.status = backup_status::missing;
    REQUIRE(s->insert_backup(b).has_value());
    CHECK(b.seq > 0);
  }

  SECTION("round trip") {
    auto b = make_backup("full", "a");
    b.md5 = std::string(32, 'c');
    b.verified_at = at(1'700'001'000);
    b.delete_attempts = 2;
    b.last_error = "quota";
    b.size = 7'000'000'000ull;
    REQUIRE(s->insert_backup(b).has_value());
    auto g = **s->get_backup("full");
    CHECK(g.seq == b.seq);
    CHECK(g.app == "a");
    CHECK(g.job_id == b.job_id);
    CHECK(g.size == 7'000'000'000ull);
    CHECK(g.sha256 == b.sha256);
    CHECK(g.md5 == b.md5);
    CHECK(g.format == "tar.gz");
    CHECK(to_string(g.storage) == "local");
    CHECK(g.location == b.location);
    CHECK(g.name == b.name);
    CHECK(g.folder == b.folder);
    CHECK(to_string(g.status) == "available");
    CHECK(g.verified_at == b.verified_at);
    CHECK(g.delete_attempts == 2);
    CHECK(g.last_error == "quota");
  }
  SECTION("list by app, newest first, seq cursor") {
    auto page = s->list_backups("a", 2, std::nullopt);
    REQUIRE(page.has_value());
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "b5");
    CHECK((*page)[1].id == "b4");
    page = s->list_backups("a", 2, (*page)[1].seq);
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].id == "b2");
    CHECK((*page)[1].id == "b1");
    CHECK(s->list_backups("a", 2, (*page)[1].seq)->empty());
    CHECK(s->list_backups("nobody", 10, std::nullopt)->empty());
  }
  SECTION("update, delete, not_found, conflict, by status") {
    auto b = **s->get_backup("b1");
    b.status = backup_status::deleting;
    b.delete_attempts = 1;
    REQUIRE(s->update_backup(b).has_value());
    auto deleting = s->backups_with_status(backup_status::deleting);
    REQUIRE(deleting.has_value());
    REQUIRE(deleting->size() == 1);
    CHECK((*deleting)[0].id == "b1");
    auto missing = s->backups_with_status(backup_status::missing);
    REQUIRE(missing->size() == 1);
    CHECK((*missing)[0].id == "b2");

    REQUIRE(s->delete_backup("b1").has_value());
    CHECK_FALSE(s->get_backup("b1")->has_value());
    CHECK(s->delete_backup("b1").error().code == errc::not_found);
    CHECK(s->update_backup(make_backup("zz", "a")).error().code == errc::not_found);
    auto dup = make_backup("b2", "a");
    CHECK(s->insert_backup(dup).error().code == errc::conflict);
  }
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
