// sqlite_store: the backup catalog.
#include <sqlite3.h>

#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "rows.hpp"
#include "sqlite_call.hpp"

namespace respaldo {

using namespace sqlite_rows;

outcome<void> sqlite_store::insert_backup(backup_record& b) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        "INSERT INTO backups (id, app, job_id, created_at, size, sha256, md5, format, storage, "
        "location, name, folder, status, verified_at, delete_attempts, last_error, mismatch_at, "
        "mismatch_size, mismatch_sha256) VALUES (:id, :app, :job_id, :created, :size, :sha256, "
        ":md5, :format, :storage, :location, :name, :folder, :status, :verified, "
        ":delete_attempts, :last_error, :mismatch_at, :mismatch_size, :mismatch_sha256)");
    bind_backup(st, b);
    st.exec();
    b.seq = db_->getLastInsertRowid();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE)
      return failure{errc::conflict, "a backup with id " + b.id + " exists"};
    return fail(e, "insert_backup");
  }
}

outcome<std::optional<backup_record>> sqlite_store::get_backup(const std::string& id) {
  call t(*this);
  try {
    SQLite::Statement q(*db_,
                        std::string("SELECT ") + backup_columns + " FROM backups WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<backup_record>{};
    return std::optional<backup_record>{read_backup(q)};
  } catch (const std::exception& e) {
    return fail(e, "get_backup");
  }
}

outcome<void> sqlite_store::update_backup(const backup_record& b) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        "UPDATE backups SET app = :app, job_id = :job_id, created_at = :created, size = :size, "
        "sha256 = :sha256, md5 = :md5, format = :format, storage = :storage, location = "
        ":location, name = :name, folder = :folder, status = :status, verified_at = :verified, "
        "delete_attempts = :delete_attempts, last_error = :last_error, mismatch_at = :mismatch_at, "
        "mismatch_size = :mismatch_size, mismatch_sha256 = :mismatch_sha256 WHERE id = :id");
    bind_backup(st, b);
    if (st.exec() != 1) return failure{errc::not_found, "no backup with id " + b.id};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "update_backup");
  }
}

outcome<void> sqlite_store::delete_backup(const std::string& id) {
  call t(*this);
  try {
    SQLite::Statement st(*db_, "DELETE FROM backups WHERE id = ?");
    st.bind(1, id);
    if (st.exec() != 1) return failure{errc::not_found, "no backup with id " + id};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "delete_backup");
  }
}

outcome<std::vector<backup_record>> sqlite_store::list_backups(
    const std::string& app, std::size_t limit, std::optional<std::int64_t> before_seq) {
  call t(*this);
  try {
    std::string sql = std::string("SELECT ") + backup_columns + " FROM backups WHERE app = :app";
    if (before_seq) sql += " AND seq < :before";
    sql += " ORDER BY seq DESC LIMIT :limit";
    SQLite::Statement q(*db_, sql);
    q.bind(":app", app);
    if (before_seq) q.bind(":before", static_cast<int64_t>(*before_seq));
    q.bind(":limit", static_cast<int64_t>(limit));
    std::vector<backup_record> out;
    while (q.executeStep()) out.push_back(read_backup(q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "list_backups");
  }
}

outcome<std::vector<backup_record>> sqlite_store::backups_with_status(backup_status status) {
  call t(*this);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + backup_columns +
                                  " FROM backups WHERE status = ? ORDER BY seq");
    q.bind(1, std::string(to_string(status)));
    std::vector<backup_record> out;
    while (q.executeStep()) out.push_back(read_backup(q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "backups_with_status");
  }
}

}  // namespace respaldo
