// Fills a data directory with a large catalog through respaldo's own store (never raw SQL), for
// the API benchmark: N apps, and M finished backup jobs spread over them, each with its backup.
//
//   bench_catalog_generator --data-dir DIR --apps N --jobs M
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "respaldo/config/bootstrap.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/store/sqlite/sqlite_store.hpp"

namespace {

using namespace respaldo;

int fail(const std::string& what, const failure& f) {
  std::fprintf(stderr, "bench_catalog_generator: %s: %s\n", what.c_str(), f.message.c_str());
  return 1;
}

std::string hex_id(std::uint64_t n) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(n * 0x9E3779B97F4A7C15ull));
  return buf;
}

app_record make_app(const token_seal& seal, std::size_t i, sys_seconds now) {
  app_record a;
  a.name = "app-" + std::to_string(i);
  a.url = "http://127.0.0.1:9";
  a.sealed_token = seal.seal(a.name, "bench-app-token-" + std::to_string(i));
  a.schedule = "0 3 1 1 *";  // yearly: nothing fires while the benchmark runs
  a.retention.daily = 7;
  a.created_at = a.updated_at = now;
  return a;
}

// A succeeded backup job of `app` and its backup.
outcome<void> add_job(store& db, const std::string& app, std::uint64_t n, sys_seconds at) {
  job_record j;
  j.id = hex_id(2 * n + 1);
  j.app = app;
  j.kind = job_kind::backup;
  j.trigger = job_trigger::schedule;
  j.state = job_state::succeeded;
  j.phase = job_phase::none;
  j.attempt = 1;
  j.bytes_done = 1048576 + n;
  j.bytes_total = j.bytes_done;
  j.created_at = at;
  j.started_at = at;
  j.finished_at = at + std::chrono::seconds(3);
  backup_record b;
  b.id = hex_id(2 * n + 2);
  b.app = app;
  b.job_id = j.id;
  b.created_at = at;
  b.size = j.bytes_done;
  b.sha256 = std::string(64, 'a');
  b.format = "pgdump";
  b.location = app + "/" + b.id + ".pgdump";
  b.name = b.id + ".pgdump";
  j.backup_id = b.id;
  if (auto ok = db.insert_job(j); !ok) return ok;
  return db.insert_backup(b);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::size_t apps = 10000, jobs = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data-dir")
      dir = argv[i + 1];
    else if (flag == "--apps")
      apps = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--jobs")
      jobs = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (dir.empty() || apps == 0) {
    std::fprintf(stderr, "usage: bench_catalog_generator --data-dir DIR --apps N --jobs M\n");
    return 2;
  }
  logger log(log_format::text, nullptr, log_level::error);
  if (auto ok = prepare_data_dir(dir); !ok) return fail("--data-dir", ok.error());
  auto box = secret_box::load_or_create((std::filesystem::path(dir) / "secret.key").string(), true);
  if (!box) return fail("secret key", box.error());
  token_seal seal(*box, log);
  auto db = make_sqlite_store((std::filesystem::path(dir) / "respaldo.db").string(), log);
  if (!db) return fail("store", db.error());
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  for (std::size_t i = 0; i < apps; ++i)
    if (auto ok = (*db)->insert_app(make_app(seal, i, now)); !ok)
      return fail("insert_app", ok.error());
  for (std::size_t n = 0; n < jobs; ++n) {
    const auto at = now - std::chrono::seconds(jobs - n) * 60;
    if (auto ok = add_job(**db, "app-" + std::to_string(n % apps), n, at); !ok)
      return fail("insert_job", ok.error());
  }
  std::printf("apps %zu jobs %zu\n", apps, jobs);
  return 0;
}
