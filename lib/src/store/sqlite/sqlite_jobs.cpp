// sqlite_store: the job repository.
#include <sqlite3.h>

#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "rows.hpp"
#include "sqlite_call.hpp"

namespace respaldo {
namespace {

using namespace sqlite_rows;

// "a, b" -> "j.a, j.b": the column list qualified for a join.
std::string qualified(std::string_view columns, std::string_view table) {
  std::string out;
  std::size_t start = 0;
  while (start < columns.size()) {
    auto end = columns.find(',', start);
    if (end == std::string_view::npos) end = columns.size();
    auto name = columns.substr(start, end - start);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (!out.empty()) out += ", ";
    out.append(table).append(".").append(name);
    start = end + 1;
  }
  return out;
}

// The WHERE, ORDER and LIMIT of a job listing, on the jobs table named `t`.
std::string filter_clause(const job_filter& f, std::string_view t) {
  const std::string p = std::string(t) + ".";
  std::string sql = " WHERE 1 = 1";
  if (!f.app.empty()) sql += " AND " + p + "app = :app";
  if (f.state) sql += " AND " + p + "state = :state";
  if (f.kind) sql += " AND " + p + "kind = :kind";
  if (f.before_seq) sql += " AND " + p + "seq < :before";
  sql += " ORDER BY " + p + "seq DESC LIMIT :limit";
  return sql;
}

void bind_filter(SQLite::Statement& q, const job_filter& f) {
  if (!f.app.empty()) q.bind(":app", f.app);
  if (f.state) q.bind(":state", std::string(to_string(*f.state)));
  if (f.kind) q.bind(":kind", std::string(to_string(*f.kind)));
  if (f.before_seq) q.bind(":before", static_cast<int64_t>(*f.before_seq));
  q.bind(":limit", static_cast<int64_t>(f.limit));
}

}  // namespace

outcome<void> sqlite_store::insert_job(job_record& job) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        "INSERT INTO jobs (id, app, kind, trigger, state, phase, bytes_done, bytes_total, attempt, "
        "max_attempts, created_at, started_at, finished_at, next_attempt_at, error_code, "
        "error_message, backup_id, warnings, resume, cancel_requested) VALUES (:id, :app, :kind, "
        ":trigger, :state, :phase, :bytes_done, :bytes_total, :attempt, :max_attempts, :created, "
        ":started, :finished, :next_attempt, :error_code, :error_message, :backup_id, :warnings, "
        ":resume, :cancel)");
    bind_job(st, job);
    st.exec();
    job.seq = db_->getLastInsertRowid();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE)
      return failure{errc::conflict, "a job with id " + job.id + " exists"};
    return fail(e, "insert_job");
  }
}

outcome<std::optional<job_record>> sqlite_store::get_job(const std::string& id) {
  call t(*this);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + job_columns + " FROM jobs WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<job_record>{};
    return std::optional<job_record>{read_job(q)};
  } catch (const std::exception& e) {
    return fail(e, "get_job");
  }
}

outcome<void> sqlite_store::update_job(const job_record& job) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        "UPDATE jobs SET app = :app, kind = :kind, trigger = :trigger, state = :state, phase = "
        ":phase, bytes_done = :bytes_done, bytes_total = :bytes_total, attempt = :attempt, "
        "max_attempts = :max_attempts, created_at = :created, started_at = :started, finished_at "
        "= :finished, next_attempt_at = :next_attempt, error_code = :error_code, error_message = "
        ":error_message, backup_id = :backup_id, warnings = :warnings, resume = :resume, "
        "cancel_requested = :cancel WHERE id = :id");
    bind_job(st, job);
    if (st.exec() != 1) return failure{errc::not_found, "no job with id " + job.id};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "update_job");
  }
}

namespace {

// Why a guarded update changed no row: the job is missing, or in a state the write may not touch.
failure refused(SQLite::Database& db, const std::string& id, std::string_view wanted) {
  SQLite::Statement q(db, "SELECT state, cancel_requested FROM jobs WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return failure{errc::not_found, "no job with id " + id};
  std::string why = "job " + id + " is " + q.getColumn(0).getString();
  if (q.getColumn(1).getInt() != 0) why += " with a cancel requested";
  return failure{errc::conflict, why + ", not " + std::string(wanted)};
}

}  // namespace

outcome<void> sqlite_store::start_job_attempt(const job_record& job) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        "UPDATE jobs SET state = :state, phase = :phase, bytes_done = :bytes_done, attempt = "
        ":attempt, started_at = :started, finished_at = :finished, next_attempt_at = "
        ":next_attempt, error_code = :error_code, error_message = :error_message WHERE id = :id "
        "AND state = 'queued' AND cancel_requested = 0");
    bind_job(st, job);
    if (st.exec() != 1) return refused(*db_, job.id, "queued");
    return {};
  } catch (const std::exception& e) {
    return fail(e, "start_job_attempt");
  }
}

outcome<void> sqlite_store::save_job_progress(const job_record& job) {
  call t(*this);
  try {
    SQLite::Statement st(*db_,
                         "UPDATE jobs SET phase = :phase, bytes_done = :bytes_done, bytes_total = "
                         ":bytes_total, backup_id = :backup_id, warnings = :warnings, resume = "
                         ":resume WHERE id = :id AND state = 'running'");
    bind_job(st, job);
    if (st.exec() != 1) return refused(*db_, job.id, "running");
    return {};
  } catch (const std::exception& e) {
    return fail(e, "save_job_progress");
  }
}

outcome<void> sqlite_store::end_job_attempt(const job_record& job) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        "UPDATE jobs SET state = :state, phase = :phase, attempt = :attempt, bytes_done = "
        ":bytes_done, bytes_total = :bytes_total, started_at = :started, finished_at = :finished, "
        "next_attempt_at = :next_attempt, error_code = :error_code, error_message = "
        ":error_message, backup_id = :backup_id, warnings = :warnings, resume = :resume WHERE id "
        "= :id AND state IN ('queued', 'running')");
    bind_job(st, job);
    if (st.exec() != 1) return refused(*db_, job.id, "queued or running");
    return {};
  } catch (const std::exception& e) {
    return fail(e, "end_job_attempt");
  }
}

outcome<job_record> sqlite_store::request_job_cancel(const std::string& id) {
  call t(*this);
  try {
    SQLite::Statement st(*db_,
                         "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state IN "
                         "('queued', 'running')");
    st.bind(1, id);
    const bool marked = st.exec() == 1;
    SQLite::Statement q(*db_, std::string("SELECT ") + job_columns + " FROM jobs WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return failure{errc::not_found, "no job with id " + id};
    job_record job = read_job(q);
    if (!marked)
      return failure{errc::conflict, "job " + id + " already " + std::string(to_string(job.state))};
    return job;
  } catch (const std::exception& e) {
    return fail(e, "request_job_cancel");
  }
}

outcome<std::vector<job_record>> sqlite_store::list_jobs(const job_filter& f) {
  call t(*this);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + qualified(job_columns, "j") +
                                  " FROM jobs AS j" + filter_clause(f, "j"));
    bind_filter(q, f);
    std::vector<job_record> out;
    while (q.executeStep()) out.push_back(read_job(q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "list_jobs");
  }
}

namespace {

// Jobs with their backup and whether that backup's app is gone, as job_view reads them. A job
// without a backup has backup_id '', which matches no backup (ids are never empty).
std::string job_view_select() {
  return std::string("SELECT ") + qualified(job_columns, "j") + ", " +
         qualified(backup_columns, "b") +
         ", a.name IS NULL FROM jobs AS j LEFT JOIN backups AS b ON b.id = j.backup_id LEFT JOIN "
         "apps AS a ON a.name = b.app";
}

job_view read_job_view(SQLite::Statement& q) {
  job_view v{read_job(q), std::nullopt, false};
  if (!q.getColumn(job_column_count).isNull()) {
    v.backup = read_backup(q, job_column_count);
    v.backup_orphaned = q.getColumn(job_column_count + backup_column_count).getInt() != 0;
  }
  return v;
}

}  // namespace

outcome<std::vector<job_view>> sqlite_store::list_job_views(const job_filter& f) {
  call t(*this);
  try {
    cached q(*this, job_view_select() + filter_clause(f, "j"));
    bind_filter(*q, f);
    std::vector<job_view> out;
    while (q->executeStep()) out.push_back(read_job_view(*q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "list_job_views");
  }
}

outcome<std::optional<job_view>> sqlite_store::get_job_view(const std::string& id) {
  call t(*this);
  try {
    cached q(*this, job_view_select() + " WHERE j.id = ?");
    q->bind(1, id);
    if (!q->executeStep()) return std::optional<job_view>{};
    return std::optional<job_view>{read_job_view(*q)};
  } catch (const std::exception& e) {
    return fail(e, "get_job_view");
  }
}

outcome<std::optional<job_record>> sqlite_store::active_job(const std::string& app, job_kind kind) {
  call t(*this);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + job_columns +
                                  " FROM jobs WHERE app = ? AND kind = ? AND state IN "
                                  "('queued', 'running') ORDER BY seq LIMIT 1");
    q.bind(1, app);
    q.bind(2, std::string(to_string(kind)));
    if (!q.executeStep()) return std::optional<job_record>{};
    return std::optional<job_record>{read_job(q)};
  } catch (const std::exception& e) {
    return fail(e, "active_job");
  }
}

outcome<std::vector<job_record>> sqlite_store::jobs_in_state(job_state state) {
  call t(*this);
  try {
    SQLite::Statement q(
        *db_, std::string("SELECT ") + job_columns + " FROM jobs WHERE state = ? ORDER BY seq");
    q.bind(1, std::string(to_string(state)));
    std::vector<job_record> out;
    while (q.executeStep()) out.push_back(read_job(q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "jobs_in_state");
  }
}

}  // namespace respaldo
