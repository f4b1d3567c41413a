// sqlite_store: restore drills.
#include <sqlite3.h>

#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "rows.hpp"
#include "sqlite_call.hpp"

namespace respaldo {

namespace {

constexpr const char* drill_columns =
    "seq, id, backup_id, app, target, passed, reported_at, duration_ms, table_count, row_count, "
    "entry_count, error";

drill_record read_drill(SQLite::Statement& q) {
  drill_record d;
  d.seq = q.getColumn(0).getInt64();
  d.id = q.getColumn(1).getString();
  d.backup_id = q.getColumn(2).getString();
  d.app = q.getColumn(3).getString();
  d.target = parse_drill_target(q.getColumn(4).getString()).value_or(drill_target::directory);
  d.passed = q.getColumn(5).getInt() != 0;
  d.reported_at = sys_seconds{std::chrono::seconds{q.getColumn(6).getInt64()}};
  d.duration_ms = q.getColumn(7).getInt64();
  d.tables = static_cast<std::uint64_t>(q.getColumn(8).getInt64());
  d.rows = static_cast<std::uint64_t>(q.getColumn(9).getInt64());
  d.entries = static_cast<std::uint64_t>(q.getColumn(10).getInt64());
  d.error = q.getColumn(11).getString();
  return d;
}

}  // namespace

outcome<void> sqlite_store::insert_drill(drill_record& d) {
  call t(*this);
  try {
    SQLite::Statement st(*db_,
                         "INSERT INTO drills (id, backup_id, app, target, passed, reported_at, "
                         "duration_ms, table_count, row_count, entry_count, error) VALUES (?, ?, "
                         "?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, d.id);
    st.bind(2, d.backup_id);
    st.bind(3, d.app);
    st.bind(4, std::string(to_string(d.target)));
    st.bind(5, d.passed ? 1 : 0);
    st.bind(6, static_cast<int64_t>(d.reported_at.time_since_epoch().count()));
    st.bind(7, static_cast<int64_t>(d.duration_ms));
    st.bind(8, static_cast<int64_t>(d.tables));
    st.bind(9, static_cast<int64_t>(d.rows));
    st.bind(10, static_cast<int64_t>(d.entries));
    st.bind(11, d.error);
    st.exec();
    d.seq = db_->getLastInsertRowid();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE)
      return failure{errc::conflict, "a drill with id " + d.id + " exists"};
    return fail(e, "insert_drill");
  }
}

outcome<std::vector<drill_record>> sqlite_store::list_drills(const std::string& backup_id,
                                                             std::size_t limit) {
  call t(*this);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + drill_columns +
                                  " FROM drills WHERE backup_id = ? ORDER BY seq DESC LIMIT ?");
    q.bind(1, backup_id);
    q.bind(2, static_cast<int64_t>(limit));
    std::vector<drill_record> out;
    while (q.executeStep()) out.push_back(read_drill(q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "list_drills");
  }
}

outcome<std::optional<drill_record>> sqlite_store::last_drill(const std::string& app,
                                                              bool passed_only) {
  call t(*this);
  try {
    // Read for every app of a listing: prepared once.
    cached q(*this, std::string("SELECT ") + drill_columns + " FROM drills WHERE app = ?" +
                        (passed_only ? " AND passed = 1" : "") + " ORDER BY seq DESC LIMIT 1");
    q->bind(1, app);
    if (!q->executeStep()) return std::optional<drill_record>{};
    return std::optional<drill_record>{read_drill(*q)};
  } catch (const std::exception& e) {
    return fail(e, "last_drill");
  }
}

}  // namespace respaldo
