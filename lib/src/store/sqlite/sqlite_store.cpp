#include "respaldo/store/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include "respaldo/core/log.hpp"
#include "rows.hpp"
#include "sqlite_call.hpp"

namespace respaldo {
namespace {

using namespace sqlite_rows;

failure file_failure(errc code, std::string message) {
  return failure{code, std::move(message)};
}

// Brings the schema from the database's user_version to ours, one transaction per step.
void migrate(SQLite::Database& db, int version, const std::string& path, logger& log) {
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  for (int v = version; v < sqlite_schema_version; ++v) {
    SQLite::Transaction tx(db);
    db.exec(migrations[static_cast<std::size_t>(v)]);
    db.exec("PRAGMA user_version = " + std::to_string(v + 1));
    tx.commit();
    log.info("store migrated", {{"path", path}, {"schema_version", v + 1}});
  }
}

}  // namespace

outcome<std::unique_ptr<store>> make_sqlite_store(const std::string& path, logger& log) {
  try {
    auto db =
        // One owner thread (the io thread): SQLite's own per-call mutexes would only cost time.
        std::make_unique<SQLite::Database>(
            path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
    db->exec("PRAGMA busy_timeout = 5000");
    int version = db->execAndGet("PRAGMA user_version").getInt();
    if (version > sqlite_schema_version)
      return file_failure(errc::store_schema_too_new,
                          path + ": database schema version " + std::to_string(version) +
                              " is newer than this respaldo supports (" +
                              std::to_string(sqlite_schema_version) +
                              "); run a newer respaldo or restore an older database");
    migrate(*db, version, path, log);
    return std::unique_ptr<store>(std::make_unique<sqlite_store>(std::move(db), log));
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_NOTADB)
      return file_failure(errc::store_not_a_database,
                          path +
                              " is not a SQLite database; move it away or point --data-dir "
                              "elsewhere");
    return file_failure(errc::store_error, path + ": " + e.what());
  }
}

sqlite_store::sqlite_store(std::unique_ptr<SQLite::Database> db, logger& log)
    : db_(std::move(db)), log_(log) {}
sqlite_store::~sqlite_store() = default;

SQLite::Statement& sqlite_store::prepared(const std::string& sql) {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<SQLite::Statement>(*db_, sql);
  return *slot;
}

failure sqlite_store::fail(const std::exception& e, std::string_view operation) {
  log_.error("store operation failed", {{"operation", operation}, {"error", e.what()}});
  return failure{errc::store_error,
                 "the database could not complete " + std::string(operation) + ": " + e.what()};
}

bool sqlite_store::healthy() {
  call t(*this);
  try {
    return db_->execAndGet("SELECT 1").getInt() == 1;
  } catch (const std::exception& e) {
    (void)fail(e, "healthy");
    return false;
  }
}

outcome<void> sqlite_store::insert_app(const app_record& app) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_, std::string("INSERT INTO apps (") + app_columns +
                  ") VALUES (:name, :url, :token, :folder, :schedule, :timezone, :verify, "
                  ":retention, :created, :updated, :next_run, :last_run, :last_success, "
                  ":next_verify, :health, :checked, :detail, :caps, :verify_result, :verify_at, "
                  ":verify_job, :verify_backup, :stale_after, NULL)");
    bind_app(st, app);
    st.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY)
      return failure{errc::conflict, "an app named \"" + app.name + "\" exists"};
    return fail(e, "insert_app");
  }
}

outcome<std::optional<app_record>> sqlite_store::get_app(const std::string& name) {
  call t(*this);
  try {
    cached q(*this, std::string("SELECT ") + app_columns + " FROM apps WHERE name = ?");
    q->bind(1, name);
    if (!q->executeStep()) return std::optional<app_record>{};
    return std::optional<app_record>{read_app(*q)};
  } catch (const std::exception& e) {
    return fail(e, "get_app");
  }
}

outcome<std::vector<app_record>> sqlite_store::list_apps(std::size_t limit,
                                                         const std::string& after_name) {
  call t(*this);
  try {
    cached q(*this, std::string("SELECT ") + app_columns +
                        " FROM apps WHERE name > ? ORDER BY name LIMIT ?");
    q->bind(1, after_name);
    q->bind(2, static_cast<int64_t>(limit));
    std::vector<app_record> out;
    while (q->executeStep()) out.push_back(read_app(*q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "list_apps");
  }
}

outcome<void> sqlite_store::update_app(const app_record& app) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        "UPDATE apps SET url = :url, token_sealed = COALESCE(:token, token_sealed), "
        "drive_folder_id = :folder, "
        "schedule = :schedule, timezone = :timezone, verify_schedule = :verify, retention = "
        ":retention, created_at = :created, updated_at = :updated, next_run_at = :next_run, "
        "last_run_at = :last_run, last_success_at = :last_success, next_verify_at = :next_verify, "
        "health_status = :health, health_checked_at = :checked, health_detail = :detail, "
        "capabilities = :caps, last_verify_result = :verify_result, last_verify_at = :verify_at, "
        "last_verify_job = :verify_job, last_verify_backup = :verify_backup, stale_after = "
        ":stale_after WHERE name = :name");
    bind_app(st, app);
    if (st.exec() != 1) return failure{errc::not_found, "no app named \"" + app.name + "\""};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "update_app");
  }
}

outcome<void> sqlite_store::delete_app(const std::string& name) {
  call t(*this);
  try {
    SQLite::Statement st(*db_, "DELETE FROM apps WHERE name = ?");
    st.bind(1, name);
    if (st.exec() != 1) return failure{errc::not_found, "no app named \"" + name + "\""};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "delete_app");
  }
}

outcome<void> sqlite_store::set_app_stale_since(const std::string& name,
                                                std::optional<sys_seconds> since) {
  call t(*this);
  try {
    SQLite::Statement st(*db_, "UPDATE apps SET stale_since = ? WHERE name = ?");
    if (since)
      st.bind(1, static_cast<int64_t>(since->time_since_epoch().count()));
    else
      st.bind(1);
    st.bind(2, name);
    if (st.exec() != 1) return failure{errc::not_found, "no app named \"" + name + "\""};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "set_app_stale_since");
  }
}

outcome<bool> sqlite_store::app_exists(const std::string& name) {
  call t(*this);
  try {
    SQLite::Statement q(*db_, "SELECT 1 FROM apps WHERE name = ?");
    q.bind(1, name);
    return q.executeStep();
  } catch (const std::exception& e) {
    return fail(e, "app_exists");
  }
}

}  // namespace respaldo
