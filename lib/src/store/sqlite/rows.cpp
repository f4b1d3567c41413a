#include "rows.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace respaldo::sqlite_rows {
namespace {

std::int64_t to_int(sys_seconds t) {
  return t.time_since_epoch().count();
}
sys_seconds to_time(std::int64_t v) {
  return sys_seconds{std::chrono::seconds{v}};
}

void bind_time(SQLite::Statement& st, const char* name, sys_seconds t) {
  st.bind(name, static_cast<int64_t>(to_int(t)));
}
void bind_opt(SQLite::Statement& st, const char* name, const std::optional<sys_seconds>& t) {
  if (t)
    bind_time(st, name, *t);
  else
    st.bind(name);
}
std::optional<sys_seconds> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return to_time(c.getInt64());
}

// Reads consecutive columns from `first` on, in the order of the column lists below.
struct row {
  SQLite::Statement& q;
  int next;
  SQLite::Column col() { return q.getColumn(next++); }
  std::string text() { return col().getString(); }
  std::int64_t int64() { return col().getInt64(); }
  sys_seconds time() { return to_time(int64()); }
  std::optional<sys_seconds> opt() { return opt_time(col()); }
};

}  // namespace

const std::array<const char*, 6> migrations = {
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
    // 2: what a failed verification read back, and each app's last verify result.
    R"sql(
ALTER TABLE backups ADD COLUMN mismatch_at INTEGER;
ALTER TABLE backups ADD COLUMN mismatch_size INTEGER;
ALTER TABLE backups ADD COLUMN mismatch_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN last_verify_result TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN last_verify_at INTEGER;
ALTER TABLE apps ADD COLUMN last_verify_job TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN last_verify_backup TEXT NOT NULL DEFAULT '';
)sql",
    // 3: notifiers (URL and secret sealed) and the outbox of their deliveries (times in ms).
    R"sql(
CREATE TABLE notifiers (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  url_sealed TEXT NOT NULL,
  secret_sealed TEXT NOT NULL DEFAULT '',
  url_host TEXT NOT NULL,
  events TEXT NOT NULL,
  apps TEXT NOT NULL DEFAULT '',
  enabled INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  notifier TEXT NOT NULL REFERENCES notifiers(name) ON DELETE CASCADE,
  event TEXT NOT NULL,
  app TEXT NOT NULL,
  document TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_attempt_at INTEGER,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
CREATE INDEX deliveries_by_notifier ON deliveries(notifier, seq);
)sql",
    // 4: each app's own stale_after (seconds) and the start of its current stale episode.
    R"sql(
ALTER TABLE apps ADD COLUMN stale_after INTEGER;
ALTER TABLE apps ADD COLUMN stale_since INTEGER;
)sql",
    // 5: restore drills (respaldo drill), by backup and by app; no foreign keys, so the history
    // outlives a deleted backup or app.
    R"sql(
CREATE TABLE drills (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  backup_id TEXT NOT NULL,
  app TEXT NOT NULL,
  target TEXT NOT NULL,
  passed INTEGER NOT NULL,
  reported_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  table_count INTEGER NOT NULL,
  row_count INTEGER NOT NULL,
  entry_count INTEGER NOT NULL,
  error TEXT NOT NULL
) STRICT;
CREATE INDEX drills_by_backup ON drills(backup_id, seq);
CREATE INDEX drills_by_app ON drills(app, passed, seq);
)sql",
    // 6: covering indexes of what app_activities adds up, so that /metrics, the freshness
    // monitor and the app listing read the indexes alone, not every job row (100,000 jobs:
    // about 1 s at start-up without them).
    R"sql(
CREATE INDEX jobs_activity ON jobs(app, kind, state, started_at, finished_at, bytes_done);
CREATE INDEX backups_activity ON backups(app, status, created_at);
)sql",
};

const char* const app_columns =
    "name, url, token_sealed, drive_folder_id, schedule, timezone, verify_schedule, retention, "
    "created_at, updated_at, next_run_at, last_run_at, last_success_at, next_verify_at, "
    "health_status, health_checked_at, health_detail, capabilities, last_verify_result, "
    "last_verify_at, last_verify_job, last_verify_backup, stale_after, stale_since";
const char* const job_columns =
    "seq, id, app, kind, trigger, state, phase, bytes_done, bytes_total, attempt, max_attempts, "
    "created_at, started_at, finished_at, next_attempt_at, error_code, error_message, backup_id, "
    "warnings, resume, cancel_requested";
const char* const backup_columns =
    "seq, id, app, job_id, created_at, size, sha256, md5, format, storage, location, name, folder, "
    "status, verified_at, delete_attempts, last_error, mismatch_at, mismatch_size, mismatch_sha256";

app_record read_app(SQLite::Statement& q, int first) {
  row r{q, first};
  app_record a;
  a.name = r.text();
  a.url = r.text();
  a.sealed_token = r.text();
  a.drive_folder_id = r.text();
  a.schedule = r.text();
  a.timezone = r.text();
  a.verify_schedule = r.text();
  auto policy = parse_retention_policy(boost::json::parse(r.text()));
  if (policy) a.retention = *policy;
  a.created_at = r.time();
  a.updated_at = r.time();
  a.next_run_at = r.opt();
  a.last_run_at = r.opt();
  a.last_success_at = r.opt();
  a.next_verify_at = r.opt();
  a.health.status = parse_health_status(r.text()).value_or(health_status::unknown);
  a.health.checked_at = r.opt();
  a.health.detail = r.text();
  if (auto caps = r.col(); !caps.isNull()) {
    boost::system::error_code jec;
    auto v = boost::json::parse(caps.getString(), jec);
    if (!jec && v.is_object()) a.health.capabilities = v.as_object();
  }
  const auto result = parse_verify_result(r.text());
  const auto verified = r.opt();
  app_verify last{verify_result::passed, verified.value_or(sys_seconds{}), r.text(), r.text()};
  if (result && verified) {
    last.result = *result;
    a.last_verify = std::move(last);
  }
  if (auto stale_after = r.col(); !stale_after.isNull())
    a.stale_after = std::chrono::seconds(stale_after.getInt64());
  a.stale_since = r.opt();
  return a;
}

void bind_app(SQLite::Statement& st, const app_record& a) {
  st.bind(":name", a.name);
  st.bind(":url", a.url);
  // Empty: keep the sealed value on disk (update_app coalesces a NULL).
  if (a.sealed_token.empty())
    st.bind(":token");
  else
    st.bind(":token", a.sealed_token);
  st.bind(":folder", a.drive_folder_id);
  st.bind(":schedule", a.schedule);
  st.bind(":timezone", a.timezone);
  st.bind(":verify", a.verify_schedule);
  st.bind(":retention", boost::json::serialize(to_json(a.retention)));
  bind_time(st, ":created", a.created_at);
  bind_time(st, ":updated", a.updated_at);
  bind_opt(st, ":next_run", a.next_run_at);
  bind_opt(st, ":last_run", a.last_run_at);
  bind_opt(st, ":last_success", a.last_success_at);
  bind_opt(st, ":next_verify", a.next_verify_at);
  st.bind(":health", std::string(to_string(a.health.status)));
  bind_opt(st, ":checked", a.health.checked_at);
  st.bind(":detail", a.health.detail);
  if (a.health.capabilities)
    st.bind(":caps", boost::json::serialize(*a.health.capabilities));
  else
    st.bind(":caps");
  st.bind(":verify_result",
          a.last_verify ? std::string(to_string(a.last_verify->result)) : std::string());
  bind_opt(st, ":verify_at",
           a.last_verify ? std::optional<sys_seconds>(a.last_verify->at) : std::nullopt);
  st.bind(":verify_job", a.last_verify ? a.last_verify->job_id : std::string());
  st.bind(":verify_backup", a.last_verify ? a.last_verify->backup_id : std::string());
  if (a.stale_after)
    st.bind(":stale_after", static_cast<int64_t>(a.stale_after->count()));
  else
    st.bind(":stale_after");
}

job_record read_job(SQLite::Statement& q, int first) {
  row r{q, first};
  job_record j;
  j.seq = r.int64();
  j.id = r.text();
  j.app = r.text();
  j.kind = parse_job_kind(r.text()).value_or(job_kind::backup);
  j.trigger = parse_job_trigger(r.text()).value_or(job_trigger::manual);
  j.state = parse_job_state(r.text()).value_or(job_state::failed);
  j.phase = parse_job_phase(r.text()).value_or(job_phase::none);
  j.bytes_done = static_cast<std::uint64_t>(r.int64());
  if (auto total = r.col(); !total.isNull())
    j.bytes_total = static_cast<std::uint64_t>(total.getInt64());
  j.attempt = static_cast<int>(r.int64());
  j.max_attempts = static_cast<int>(r.int64());
  j.created_at = r.time();
  j.started_at = r.opt();
  j.finished_at = r.opt();
  j.next_attempt_at = r.opt();
  j.error_code = r.text();
  j.error_message = r.text();
  j.backup_id = r.text();
  boost::system::error_code jec;
  auto w = boost::json::parse(r.text(), jec);
  if (!jec && w.is_array())
    for (auto& item : w.as_array())
      if (item.is_string()) j.warnings.emplace_back(item.as_string());
  j.resume = r.text();
  j.cancel_requested = r.int64() != 0;
  return j;
}

// Binds the job's fields the statement names and skips the others, so that the column-wise
// updates (sqlite_jobs.cpp) share this one mapping with insert and update.
void bind_job(SQLite::Statement& st, const job_record& j) {
  const auto has = [&st](const char* name) { return st.getIndex(name) != 0; };
  const auto text = [&](const char* name, const std::string& v) {
    if (has(name)) st.bind(name, v);
  };
  const auto number = [&](const char* name, std::int64_t v) {
    if (has(name)) st.bind(name, v);
  };
  const auto time = [&](const char* name, const std::optional<sys_seconds>& t) {
    if (has(name)) bind_opt(st, name, t);
  };
  text(":id", j.id);
  text(":app", j.app);
  text(":kind", std::string(to_string(j.kind)));
  text(":trigger", std::string(to_string(j.trigger)));
  text(":state", std::string(to_string(j.state)));
  text(":phase", std::string(to_string(j.phase)));
  number(":bytes_done", static_cast<int64_t>(j.bytes_done));
  if (has(":bytes_total")) {
    if (j.bytes_total)
      st.bind(":bytes_total", static_cast<int64_t>(*j.bytes_total));
    else
      st.bind(":bytes_total");
  }
  number(":attempt", j.attempt);
  number(":max_attempts", j.max_attempts);
  time(":created", j.created_at);
  time(":started", j.started_at);
  time(":finished", j.finished_at);
  time(":next_attempt", j.next_attempt_at);
  text(":error_code", j.error_code);
  text(":error_message", j.error_message);
  text(":backup_id", j.backup_id);
  if (has(":warnings")) {
    boost::json::array w;
    for (auto& s : j.warnings) w.emplace_back(s);
    st.bind(":warnings", boost::json::serialize(w));
  }
  text(":resume", j.resume);
  number(":cancel", j.cancel_requested ? 1 : 0);
}

backup_record read_backup(SQLite::Statement& q, int first) {
  row r{q, first};
  backup_record b;
  b.seq = r.int64();
  b.id = r.text();
  b.app = r.text();
  b.job_id = r.text();
  b.created_at = r.time();
  b.size = static_cast<std::uint64_t>(r.int64());
  b.sha256 = r.text();
  b.md5 = r.text();
  b.format = r.text();
  b.storage = parse_storage_kind(r.text()).value_or(storage_kind::local);
  b.location = r.text();
  b.name = r.text();
  b.folder = r.text();
  b.status = parse_backup_status(r.text()).value_or(backup_status::missing);
  b.verified_at = r.opt();
  b.delete_attempts = static_cast<int>(r.int64());
  b.last_error = r.text();
  const auto mismatch_at = r.opt();
  const auto mismatch_size = r.col();
  std::string mismatch_sha256 = r.text();
  if (mismatch_at)
    b.mismatch = backup_mismatch{*mismatch_at, static_cast<std::uint64_t>(mismatch_size.getInt64()),
                                 std::move(mismatch_sha256)};
  return b;
}

void bind_backup(SQLite::Statement& st, const backup_record& b) {
  st.bind(":id", b.id);
  st.bind(":app", b.app);
  st.bind(":job_id", b.job_id);
  bind_time(st, ":created", b.created_at);
  st.bind(":size", static_cast<int64_t>(b.size));
  st.bind(":sha256", b.sha256);
  st.bind(":md5", b.md5);
  st.bind(":format", b.format);
  st.bind(":storage", std::string(to_string(b.storage)));
  st.bind(":location", b.location);
  st.bind(":name", b.name);
  st.bind(":folder", b.folder);
  st.bind(":status", std::string(to_string(b.status)));
  bind_opt(st, ":verified", b.verified_at);
  st.bind(":delete_attempts", b.delete_attempts);
  st.bind(":last_error", b.last_error);
  if (b.mismatch) {
    bind_time(st, ":mismatch_at", b.mismatch->detected_at);
    st.bind(":mismatch_size", static_cast<int64_t>(b.mismatch->size));
    st.bind(":mismatch_sha256", b.mismatch->sha256);
  } else {
    st.bind(":mismatch_at");
    st.bind(":mismatch_size");
    st.bind(":mismatch_sha256", std::string());
  }
}

}  // namespace respaldo::sqlite_rows
