#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {
namespace {

using boost::system::error_code;

// Each entry moves the schema one version up; never edit a released entry, append a new one.
constexpr std::array<const char*, 1> migrations = {
    R"sql(
CREATE TABLE apps (
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  token_sealed TEXT NOT NULL,
  drive_folder_id TEXT NOT NULL,
  schedule TEXT NOT NULL,
  timezone TEXT NOT NULL DEFAULT '',
  verify_schedule TEXT NOT NULL DEFAULT '',
  retention TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  next_run_at INTEGER,
  last_run_at INTEGER,
  last_success_at INTEGER,
  next_verify_at INTEGER,
  health_status TEXT NOT NULL DEFAULT 'unknown',
  health_checked_at INTEGER,
  health_detail TEXT NOT NULL DEFAULT '',
  capabilities TEXT
) STRICT;
CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  app TEXT NOT NULL,
  kind TEXT NOT NULL,
  trigger TEXT NOT NULL,
  state TEXT NOT NULL,
  phase TEXT NOT NULL DEFAULT '',
  bytes_done INTEGER NOT NULL DEFAULT 0,
  bytes_total INTEGER,
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  next_attempt_at INTEGER,
  error_code TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL DEFAULT '',
  backup_id TEXT NOT NULL DEFAULT '',
  warnings TEXT NOT NULL DEFAULT '[]',
  resume TEXT NOT NULL DEFAULT '',
  cancel_requested INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX jobs_by_app ON jobs(app, seq);
CREATE INDEX jobs_by_state ON jobs(state, seq);
CREATE TABLE backups (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  app TEXT NOT NULL,
  job_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  md5 TEXT NOT NULL DEFAULT '',
  format TEXT NOT NULL,
  storage TEXT NOT NULL,
  location TEXT NOT NULL,
  name TEXT NOT NULL,
  folder TEXT NOT NULL,
  status TEXT NOT NULL,
  verified_at INTEGER,
  delete_attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX backups_by_app ON backups(app, seq);
)sql",
};
static_assert(migrations.size() == store::schema_version);

std::int64_t to_int(sys_seconds t) {
  return t.time_since_epoch().count();
}
sys_seconds to_time(std::int64_t v) {
  return sys_seconds{std::chrono::seconds{v}};
}

void bind_opt(SQLite::Statement& st, const char* name, const std::optional<sys_seconds>& t) {
  if (t)
    st.bind(name, static_cast<int64_t>(to_int(*t)));
  else
    st.bind(name);
}
std::optional<sys_seconds> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return to_time(c.getInt64());
}

constexpr const char* app_columns =
    "name, url, token_sealed, drive_folder_id, schedule, timezone, verify_schedule, retention, "
    "created_at, updated_at, next_run_at, last_run_at, last_success_at, next_verify_at, "
    "health_status, health_checked_at, health_detail, capabilities";
constexpr const char* job_columns =
    "seq, id, app, kind, trigger, state, phase, bytes_done, bytes_total, attempt, max_attempts, "
    "created_at, started_at, finished_at, next_attempt_at, error_code, error_message, backup_id, "
    "warnings, resume, cancel_requested";
constexpr const char* backup_columns =
    "seq, id, app, job_id, created_at, size, sha256, md5, format, storage, location, name, folder, "
    "status, verified_at, delete_attempts, last_error";

}  // namespace

std::string_view to_string(job_state s) {
  switch (s) {
    case job_state::queued:
      return "queued";
    case job_state::running:
      return "running";
    case job_state::succeeded:
      return "succeeded";
    case job_state::failed:
      return "failed";
    case job_state::cancelled:
      return "cancelled";
  }
  return "queued";
}

std::optional<job_state> parse_job_state(std::string_view s) {
  for (auto st : {job_state::queued, job_state::running, job_state::succeeded, job_state::failed,
                  job_state::cancelled})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

struct store::impl {
  impl(const std::string& path, const secret_box& b, logger& l)
      : db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE), box(b), log(l) {}
  SQLite::Database db;
  const secret_box& box;
  logger& log;
  std::set<std::string> unopenable_tokens;

  error_code fail(const std::exception& e, std::string_view what) {
    log.error("store operation failed", {{"operation", what}, {"error", e.what()}});
    return errc::store_error;
  }

  app_record read_app(SQLite::Statement& q) {
    app_record a;
    a.name = q.getColumn(0).getString();
    a.url = q.getColumn(1).getString();
    auto token = box.open(q.getColumn(2).getString(), a.name);
    // A token that does not open means the key file changed: keep the app visible, unusable
    // (token_set false) until a new token is PATCHed; say so once per app, not on every read.
    a.token = token ? *token : std::string();
    if (!token && unopenable_tokens.insert(a.name).second)
      log.warn("app token cannot be opened with the current secret key; PATCH a new token",
               {{"app", a.name}});
    a.drive_folder_id = q.getColumn(3).getString();
    a.schedule = q.getColumn(4).getString();
    a.timezone = q.getColumn(5).getString();
    a.verify_schedule = q.getColumn(6).getString();
    auto policy = parse_retention_policy(boost::json::parse(q.getColumn(7).getString()));
    if (policy) a.retention = *policy;
    a.created_at = to_time(q.getColumn(8).getInt64());
    a.updated_at = to_time(q.getColumn(9).getInt64());
    a.next_run_at = opt_time(q.getColumn(10));
    a.last_run_at = opt_time(q.getColumn(11));
    a.last_success_at = opt_time(q.getColumn(12));
    a.next_verify_at = opt_time(q.getColumn(13));
    a.health.status = q.getColumn(14).getString();
    a.health.checked_at = opt_time(q.getColumn(15));
    a.health.detail = q.getColumn(16).getString();
    if (!q.getColumn(17).isNull()) {
      boost::system::error_code jec;
      auto v = boost::json::parse(q.getColumn(17).getString(), jec);
      if (!jec && v.is_object()) a.health.capabilities = v.as_object();
    }
    return a;
  }

  void bind_app(SQLite::Statement& st, const app_record& a) {
    st.bind(":name", a.name);
    st.bind(":url", a.url);
    // An empty token is one that could not be unsealed (valid tokens are 1..4096 bytes): keep
    // the sealed value on disk rather than overwrite it with a sealed empty string.
    if (a.token.empty())
      st.bind(":token");
    else
      st.bind(":token", box.seal(a.token, a.name));
    st.bind(":folder", a.drive_folder_id);
    st.bind(":schedule", a.schedule);
    st.bind(":timezone", a.timezone);
    st.bind(":verify", a.verify_schedule);
    st.bind(":retention", boost::json::serialize(to_json(a.retention)));
    st.bind(":created", static_cast<int64_t>(to_int(a.created_at)));
    st.bind(":updated", static_cast<int64_t>(to_int(a.updated_at)));
    bind_opt(st, ":next_run", a.next_run_at);
    bind_opt(st, ":last_run", a.last_run_at);
    bind_opt(st, ":last_success", a.last_success_at);
    bind_opt(st, ":next_verify", a.next_verify_at);
    st.bind(":health", a.health.status);
    bind_opt(st, ":checked", a.health.checked_at);
    st.bind(":detail", a.health.detail);
    if (a.health.capabilities)
      st.bind(":caps", boost::json::serialize(*a.health.capabilities));
    else
      st.bind(":caps");
  }

  static job_record read_job(SQLite::Statement& q) {
    job_record j;
    j.seq = q.getColumn(0).getInt64();
    j.id = q.getColumn(1).getString();
    j.app = q.getColumn(2).getString();
    j.kind = q.getColumn(3).getString();
    j.trigger = q.getColumn(4).getString();
    j.state = parse_job_state(q.getColumn(5).getString()).value_or(job_state::failed);
    j.phase = q.getColumn(6).getString();
    j.bytes_done = static_cast<std::uint64_t>(q.getColumn(7).getInt64());
    if (!q.getColumn(8).isNull())
      j.bytes_total = static_cast<std::uint64_t>(q.getColumn(8).getInt64());
    j.attempt = q.getColumn(9).getInt();
    j.max_attempts = q.getColumn(10).getInt();
    j.created_at = to_time(q.getColumn(11).getInt64());
    j.started_at = opt_time(q.getColumn(12));
    j.finished_at = opt_time(q.getColumn(13));
    j.next_attempt_at = opt_time(q.getColumn(14));
    j.error_code = q.getColumn(15).getString();
    j.error_message = q.getColumn(16).getString();
    j.backup_id = q.getColumn(17).getString();
    boost::system::error_code jec;
    auto w = boost::json::parse(q.getColumn(18).getString(), jec);
    if (!jec && w.is_array())
      for (auto& item : w.as_array())
        if (item.is_string()) j.warnings.emplace_back(item.as_string());
    j.resume = q.getColumn(19).getString();
    j.cancel_requested = q.getColumn(20).getInt() != 0;
    return j;
  }

  static void bind_job(SQLite::Statement& st, const job_record& j) {
    st.bind(":id", j.id);
    st.bind(":app", j.app);
    st.bind(":kind", j.kind);
    st.bind(":trigger", j.trigger);
    st.bind(":state", std::string(to_string(j.state)));
    st.bind(":phase", j.phase);
    st.bind(":bytes_done", static_cast<int64_t>(j.bytes_done));
    if (j.bytes_total)
      st.bind(":bytes_total", static_cast<int64_t>(*j.bytes_total));
    else
      st.bind(":bytes_total");
    st.bind(":attempt", j.attempt);
    st.bind(":max_attempts", j.max_attempts);
    st.bind(":created", static_cast<int64_t>(to_int(j.created_at)));
    bind_opt(st, ":started", j.started_at);
    bind_opt(st, ":finished", j.finished_at);
    bind_opt(st, ":next_attempt", j.next_attempt_at);
    st.bind(":error_code", j.error_code);
    st.bind(":error_message", j.error_message);
    st.bind(":backup_id", j.backup_id);
    boost::json::array w;
    for (auto& s : j.warnings) w.emplace_back(s);
    st.bind(":warnings", boost::json::serialize(w));
    st.bind(":resume", j.resume);
    st.bind(":cancel", j.cancel_requested ? 1 : 0);
  }

  static backup_record read_backup(SQLite::Statement& q) {
    backup_record b;
    b.seq = q.getColumn(0).getInt64();
    b.id = q.getColumn(1).getString();
    b.app = q.getColumn(2).getString();
    b.job_id = q.getColumn(3).getString();
    b.created_at = to_time(q.getColumn(4).getInt64());
    b.size = static_cast<std::uint64_t>(q.getColumn(5).getInt64());
    b.sha256 = q.getColumn(6).getString();
    b.md5 = q.getColumn(7).getString();
    b.format = q.getColumn(8).getString();
    b.storage = q.getColumn(9).getString();
    b.location = q.getColumn(10).getString();
    b.name = q.getColumn(11).getString();
    b.folder = q.getColumn(12).getString();
    b.status = q.getColumn(13).getString();
    b.verified_at = opt_time(q.getColumn(14));
    b.delete_attempts = q.getColumn(15).getInt();
    b.last_error = q.getColumn(16).getString();
    return b;
  }

  static void bind_backup(SQLite::Statement& st, const backup_record& b) {
    st.bind(":id", b.id);
    st.bind(":app", b.app);
    st.bind(":job_id", b.job_id);
    st.bind(":created", static_cast<int64_t>(to_int(b.created_at)));
    st.bind(":size", static_cast<int64_t>(b.size));
    st.bind(":sha256", b.sha256);
    st.bind(":md5", b.md5);
    st.bind(":format", b.format);
    st.bind(":storage", b.storage);
    st.bind(":location", b.location);
    st.bind(":name", b.name);
    st.bind(":folder", b.folder);
    st.bind(":status", b.status);
    bind_opt(st, ":verified", b.verified_at);
    st.bind(":delete_attempts", b.delete_attempts);
    st.bind(":last_error", b.last_error);
  }
};

// Measures one public call; the figures feed /metrics (respaldo_store_call_*).
struct store_call {
  explicit store_call(store& s) : s_(s), start_(std::chrono::steady_clock::now()) {}
  ~store_call() {
    auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::steady_clock::now() - start_)
                                             .count());
    s_.stats_.calls++;
    s_.stats_.total_ns += ns;
    if (ns > s_.stats_.max_ns) s_.stats_.max_ns = ns;
  }
  store& s_;
  std::chrono::steady_clock::time_point start_;
};

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() = default;

boost::system::result<std::unique_ptr<store>> store::open(const std::string& path,
                                                          const secret_box& box, logger& log,
                                                          std::string* error_detail) {
  auto set_detail = [&](std::string msg) {
    if (error_detail) *error_detail = std::move(msg);
  };
  std::unique_ptr<impl> p;
  try {
    p = std::make_unique<impl>(path, box, log);
    p->db.exec("PRAGMA busy_timeout = 5000");
    int version = p->db.execAndGet("PRAGMA user_version").getInt();
    if (version > schema_version) {
      set_detail(path + ": database schema version " + std::to_string(version) +
                 " is newer than this respaldo supports (" + std::to_string(schema_version) +
                 "); run a newer respaldo or restore an older database");
      return errc::store_schema_too_new;
    }
    p->db.exec("PRAGMA journal_mode = WAL");
    p->db.exec("PRAGMA synchronous = NORMAL");
    p->db.exec("PRAGMA foreign_keys = ON");
    for (int v = version; v < schema_version; ++v) {
      SQLite::Transaction tx(p->db);
      p->db.exec(migrations[static_cast<std::size_t>(v)]);
      p->db.exec("PRAGMA user_version = " + std::to_string(v + 1));
      tx.commit();
      log.info("store migrated", {{"path", path}, {"schema_version", v + 1}});
    }
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_NOTADB) {
      set_detail(path + " is not a SQLite database; move it away or point --data-dir elsewhere");
      return errc::store_not_a_database;
    }
    set_detail(path + ": " + e.what());
    return errc::store_error;
  }
  return std::unique_ptr<store>(new store(std::move(p)));
}

bool store::healthy() {
  store_call t(*this);
  try {
    return impl_->db.execAndGet("SELECT 1").getInt() == 1;
  } catch (const std::exception& e) {
    impl_->fail(e, "healthy");
    return false;
  }
}

error_code store::insert_app(const app_record& app) {
  store_call t(*this);
  try {
    SQLite::Statement st(
        impl_->db, std::string("INSERT INTO apps (") + app_columns +
                       ") VALUES (:name, :url, :token, :folder, :schedule, :timezone, :verify, "
                       ":retention, :created, :updated, :next_run, :last_run, :last_success, "
                       ":next_verify, :health, :checked, :detail, :caps)");
    impl_->bind_app(st, app);
    st.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY) return errc::conflict;
    return impl_->fail(e, "insert_app");
  }
}

boost::system::result<std::optional<app_record>> store::get_app(const std::string& name) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db,
                        std::string("SELECT ") + app_columns + " FROM apps WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return std::optional<app_record>{};
    return std::optional<app_record>{impl_->read_app(q)};
  } catch (const std::exception& e) {
    return impl_->fail(e, "get_app");
  }
}

boost::system::result<std::vector<app_record>> store::list_apps(std::size_t limit,
                                                                const std::string& after_name) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db, std::string("SELECT ") + app_columns +
                                       " FROM apps WHERE name > ? ORDER BY name LIMIT ?");
    q.bind(1, after_name);
    q.bind(2, static_cast<int64_t>(limit));
    std::vector<app_record> out;
    while (q.executeStep()) out.push_back(impl_->read_app(q));
    return out;
  } catch (const std::exception& e) {
    return impl_->fail(e, "list_apps");
  }
}

error_code store::update_app(const app_record& app) {
  store_call t(*this);
  try {
    SQLite::Statement st(
        impl_->db,
        "UPDATE apps SET url = :url, token_sealed = COALESCE(:token, token_sealed), "
        "drive_folder_id = :folder, "
        "schedule = :schedule, timezone = :timezone, verify_schedule = :verify, retention = "
        ":retention, created_at = :created, updated_at = :updated, next_run_at = :next_run, "
        "last_run_at = :last_run, last_success_at = :last_success, next_verify_at = :next_verify, "
        "health_status = :health, health_checked_at = :checked, health_detail = :detail, "
        "capabilities = :caps WHERE name = :name");
    impl_->bind_app(st, app);
    return st.exec() == 1 ? error_code{} : error_code{errc::not_found};
  } catch (const std::exception& e) {
    return impl_->fail(e, "update_app");
  }
}

error_code store::delete_app(const std::string& name) {
  store_call t(*this);
  try {
    SQLite::Statement st(impl_->db, "DELETE FROM apps WHERE name = ?");
    st.bind(1, name);
    return st.exec() == 1 ? error_code{} : error_code{errc::not_found};
  } catch (const std::exception& e) {
    return impl_->fail(e, "delete_app");
  }
}

boost::system::result<bool> store::app_exists(const std::string& name) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db, "SELECT 1 FROM apps WHERE name = ?");
    q.bind(1, name);
    return q.executeStep();
  } catch (const std::exception& e) {
    return {boost::system::in_place_error, impl_->fail(e, "app_exists")};
  }
}

error_code store::insert_job(job_record& job) {
  store_call t(*this);
  try {
    SQLite::Statement st(
        impl_->db,
        "INSERT INTO jobs (id, app, kind, trigger, state, phase, bytes_done, bytes_total, attempt, "
        "max_attempts, created_at, started_at, finished_at, next_attempt_at, error_code, "
        "error_message, backup_id, warnings, resume, cancel_requested) VALUES (:id, :app, :kind, "
        ":trigger, :state, :phase, :bytes_done, :bytes_total, :attempt, :max_attempts, :created, "
        ":started, :finished, :next_attempt, :error_code, :error_message, :backup_id, :warnings, "
        ":resume, :cancel)");
    impl::bind_job(st, job);
    st.exec();
    job.seq = impl_->db.getLastInsertRowid();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE) return errc::conflict;
    return impl_->fail(e, "insert_job");
  }
}

boost::system::result<std::optional<job_record>> store::get_job(const std::string& id) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db,
                        std::string("SELECT ") + job_columns + " FROM jobs WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<job_record>{};
    return std::optional<job_record>{impl::read_job(q)};
  } catch (const std::exception& e) {
    return impl_->fail(e, "get_job");
  }
}

error_code store::update_job(const job_record& job) {
  store_call t(*this);
  try {
    SQLite::Statement st(
        impl_->db,
        "UPDATE jobs SET app = :app, kind = :kind, trigger = :trigger, state = :state, phase = "
        ":phase, bytes_done = :bytes_done, bytes_total = :bytes_total, attempt = :attempt, "
        "max_attempts = :max_attempts, created_at = :created, started_at = :started, finished_at "
        "= :finished, next_attempt_at = :next_attempt, error_code = :error_code, error_message = "
        ":error_message, backup_id = :backup_id, warnings = :warnings, resume = :resume, "
        "cancel_requested = :cancel WHERE id = :id");
    impl::bind_job(st, job);
    return st.exec() == 1 ? error_code{} : error_code{errc::not_found};
  } catch (const std::exception& e) {
    return impl_->fail(e, "update_job");
  }
}

boost::system::result<std::vector<job_record>> store::list_jobs(const job_filter& f) {
  store_call t(*this);
  try {
    std::string sql = std::string("SELECT ") + job_columns + " FROM jobs WHERE 1 = 1";
    if (!f.app.empty()) sql += " AND app = :app";
    if (f.state) sql += " AND state = :state";
    if (!f.kind.empty()) sql += " AND kind = :kind";
    if (f.before_seq) sql += " AND seq < :before";
    sql += " ORDER BY seq DESC LIMIT :limit";
    SQLite::Statement q(impl_->db, sql);
    if (!f.app.empty()) q.bind(":app", f.app);
    if (f.state) q.bind(":state", std::string(to_string(*f.state)));
    if (!f.kind.empty()) q.bind(":kind", f.kind);
    if (f.before_seq) q.bind(":before", static_cast<int64_t>(*f.before_seq));
    q.bind(":limit", static_cast<int64_t>(f.limit));
    std::vector<job_record> out;
    while (q.executeStep()) out.push_back(impl::read_job(q));
    return out;
  } catch (const std::exception& e) {
    return impl_->fail(e, "list_jobs");
  }
}

boost::system::result<std::optional<job_record>> store::active_job(const std::string& app,
                                                                   const std::string& kind) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db, std::string("SELECT ") + job_columns +
                                       " FROM jobs WHERE app = ? AND kind = ? AND state IN "
                                       "('queued', 'running') ORDER BY seq LIMIT 1");
    q.bind(1, app);
    q.bind(2, kind);
    if (!q.executeStep()) return std::optional<job_record>{};
    return std::optional<job_record>{impl::read_job(q)};
  } catch (const std::exception& e) {
    return impl_->fail(e, "active_job");
  }
}

boost::system::result<std::vector<job_record>> store::jobs_in_state(job_state state) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db, std::string("SELECT ") + job_columns +
                                       " FROM jobs WHERE state = ? ORDER BY seq");
    q.bind(1, std::string(to_string(state)));
    std::vector<job_record> out;
    while (q.executeStep()) out.push_back(impl::read_job(q));
    return out;
  } catch (const std::exception& e) {
    return impl_->fail(e, "jobs_in_state");
  }
}

error_code store::insert_backup(backup_record& b) {
  store_call t(*this);
  try {
    SQLite::Statement st(
        impl_->db,
        "INSERT INTO backups (id, app, job_id, created_at, size, sha256, md5, format, storage, "
        "location, name, folder, status, verified_at, delete_attempts, last_error) VALUES (:id, "
        ":app, :job_id, :created, :size, :sha256, :md5, :format, :storage, :location, :name, "
        ":folder, :status, :verified, :delete_attempts, :last_error)");
    impl::bind_backup(st, b);
    st.exec();
    b.seq = impl_->db.getLastInsertRowid();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE) return errc::conflict;
    return impl_->fail(e, "insert_backup");
  }
}

boost::system::result<std::optional<backup_record>> store::get_backup(const std::string& id) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db,
                        std::string("SELECT ") + backup_columns + " FROM backups WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<backup_record>{};
    return std::optional<backup_record>{impl::read_backup(q)};
  } catch (const std::exception& e) {
    return impl_->fail(e, "get_backup");
  }
}

error_code store::update_backup(const backup_record& b) {
  store_call t(*this);
  try {
    SQLite::Statement st(
        impl_->db,
        "UPDATE backups SET app = :app, job_id = :job_id, created_at = :created, size = :size, "
        "sha256 = :sha256, md5 = :md5, format = :format, storage = :storage, location = "
        ":location, name = :name, folder = :folder, status = :status, verified_at = :verified, "
        "delete_attempts = :delete_attempts, last_error = :last_error WHERE id = :id");
    impl::bind_backup(st, b);
    return st.exec() == 1 ? error_code{} : error_code{errc::not_found};
  } catch (const std::exception& e) {
    return impl_->fail(e, "update_backup");
  }
}

error_code store::delete_backup(const std::string& id) {
  store_call t(*this);
  try {
    SQLite::Statement st(impl_->db, "DELETE FROM backups WHERE id = ?");
    st.bind(1, id);
    return st.exec() == 1 ? error_code{} : error_code{errc::not_found};
  } catch (const std::exception& e) {
    return impl_->fail(e, "delete_backup");
  }
}

boost::system::result<std::vector<backup_record>> store::list_backups(
    const std::string& app, std::size_t limit, std::optional<std::int64_t> before_seq) {
  store_call t(*this);
  try {
    std::string sql = std::string("SELECT ") + backup_columns + " FROM backups WHERE app = :app";
    if (before_seq) sql += " AND seq < :before";
    sql += " ORDER BY seq DESC LIMIT :limit";
    SQLite::Statement q(impl_->db, sql);
    q.bind(":app", app);
    if (before_seq) q.bind(":before", static_cast<int64_t>(*before_seq));
    q.bind(":limit", static_cast<int64_t>(limit));
    std::vector<backup_record> out;
    while (q.executeStep()) out.push_back(impl::read_backup(q));
    return out;
  } catch (const std::exception& e) {
    return impl_->fail(e, "list_backups");
  }
}

boost::system::result<std::vector<backup_record>> store::backups_with_status(
    const std::string& status) {
  store_call t(*this);
  try {
    SQLite::Statement q(impl_->db, std::string("SELECT ") + backup_columns +
                                       " FROM backups WHERE status = ? ORDER BY seq");
    q.bind(1, status);
    std::vector<backup_record> out;
    while (q.executeStep()) out.push_back(impl::read_backup(q));
    return out;
  } catch (const std::exception& e) {
    return impl_->fail(e, "backups_with_status");
  }
}

}  // namespace respaldo
