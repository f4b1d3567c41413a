#include "support/fake_store.hpp"

#include <algorithm>

namespace respaldo::test {
namespace {

failure backend_failure(std::string_view operation, std::string_view what) {
  return failure{errc::store_error, "the database could not complete " + std::string(operation) +
                                        ": " + std::string(what)};
}

bool matches(const job_record& j, const job_filter& f) {
  return (f.app.empty() || j.app == f.app) && (!f.state || j.state == *f.state) &&
         (!f.kind || j.kind == *f.kind) && (!f.before_seq || j.seq < *f.before_seq);
}

}  // namespace

std::optional<failure> fake_store::enter(std::string_view operation) {
  ++stats_.calls;
  ++calls[std::string(operation)];
  const bool fail = (fail_when && fail_when(operation)) ||
                    std::find(failing_.begin(), failing_.end(), operation) != failing_.end();
  if (!fail) return std::nullopt;
  return backend_failure(operation, "injected failure");
}

job_record* fake_store::find_job(const std::string& id) {
  for (auto& [seq, j] : jobs_)
    if (j.id == id) return &j;
  return nullptr;
}

backup_record* fake_store::find_backup(const std::string& id) {
  for (auto& [seq, b] : backups_)
    if (b.id == id) return &b;
  return nullptr;
}

bool fake_store::healthy() {
  return !enter("healthy");
}

outcome<void> fake_store::insert_app(const app_record& app) {
  if (auto f = enter("insert_app")) return *f;
  if (apps_.count(app.name))
    return failure{errc::conflict, "an app named \"" + app.name + "\" exists"};
  // The column is NOT NULL and an empty sealed token binds NULL (see sqlite rows.cpp).
  if (app.sealed_token.empty())
    return backend_failure("insert_app", "NOT NULL constraint failed: apps.token_sealed");
  auto& stored = apps_[app.name] = app;
  stored.token.clear();        // plaintext is never stored
  stored.stale_since.reset();  // written by set_app_stale_since only
  return {};
}

outcome<std::optional<app_record>> fake_store::get_app(const std::string& name) {
  if (auto f = enter("get_app")) return *f;
  auto it = apps_.find(name);
  if (it == apps_.end()) return std::optional<app_record>{};
  return std::optional<app_record>{it->second};
}

outcome<std::vector<app_record>> fake_store::list_apps(std::size_t limit,
                                                       const std::string& after_name) {
  if (auto f = enter("list_apps")) return *f;
  std::vector<app_record> out;
  for (auto it = apps_.upper_bound(after_name); it != apps_.end() && out.size() < limit; ++it)
    out.push_back(it->second);
  return out;
}

outcome<void> fake_store::update_app(const app_record& app) {
  if (auto f = enter("update_app")) return *f;
  auto it = apps_.find(app.name);
  if (it == apps_.end()) return failure{errc::not_found, "no app named \"" + app.name + "\""};
  std::string sealed = app.sealed_token.empty() ? it->second.sealed_token : app.sealed_token;
  const auto stale_since = it->second.stale_since;
  it->second = app;
  it->second.stale_since = stale_since;
  it->second.sealed_token = std::move(sealed);
  it->second.token.clear();
  return {};
}

outcome<void> fake_store::delete_app(const std::string& name) {
  if (auto f = enter("delete_app")) return *f;
  if (apps_.erase(name) != 1) return failure{errc::not_found, "no app named \"" + name + "\""};
  return {};
}

outcome<void> fake_store::set_app_stale_since(const std::string& name,
                                              std::optional<sys_seconds> since) {
  if (auto f = enter("set_app_stale_since")) return *f;
  auto it = apps_.find(name);
  if (it == apps_.end()) return failure{errc::not_found, "no app named \"" + name + "\""};
  it->second.stale_since = since;
  return {};
}

outcome<bool> fake_store::app_exists(const std::string& name) {
  if (auto f = enter("app_exists")) return *f;
  return apps_.count(name) == 1;
}

outcome<void> fake_store::insert_job(job_record& job) {
  if (auto f = enter("insert_job")) return *f;
  if (find_job(job.id)) return failure{errc::conflict, "a job with id " + job.id + " exists"};
  job.seq = ++last_job_seq_;
  jobs_[job.seq] = job;
  return {};
}

outcome<std::optional<job_record>> fake_store::get_job(const std::string& id) {
  if (auto f = enter("get_job")) return *f;
  if (auto* j = find_job(id)) return std::optional<job_record>{*j};
  return std::optional<job_record>{};
}

outcome<void> fake_store::update_job(const job_record& job) {
  if (auto f = enter("update_job")) return *f;
  auto* j = find_job(job.id);
  if (!j) return failure{errc::not_found, "no job with id " + job.id};
  const auto seq = j->seq;  // the row keeps its sequence number
  *j = job;
  j->seq = seq;
  return {};
}

namespace {

failure refused(const job_record& j, std::string_view wanted) {
  std::string why = "job " + j.id + " is " + std::string(to_string(j.state));
  if (j.cancel_requested) why += " with a cancel requested";
  return failure{errc::conflict, why + ", not " + std::string(wanted)};
}

}  // namespace

outcome<void> fake_store::start_job_attempt(const job_record& job) {
  if (auto f = enter("start_job_attempt")) return *f;
  auto* j = find_job(job.id);
  if (!j) return failure{errc::not_found, "no job with id " + job.id};
  if (j->state != job_state::queued || j->cancel_requested) return refused(*j, "queued");
  j->state = job.state;
  j->phase = job.phase;
  j->bytes_done = job.bytes_done;
  j->attempt = job.attempt;
  j->started_at = job.started_at;
  j->finished_at = job.finished_at;
  j->next_attempt_at = job.next_attempt_at;
  j->error_code = job.error_code;
  j->error_message = job.error_message;
  return {};
}

outcome<void> fake_store::save_job_progress(const job_record& job) {
  if (auto f = enter("save_job_progress")) return *f;
  auto* j = find_job(job.id);
  if (!j) return failure{errc::not_found, "no job with id " + job.id};
  if (j->state != job_state::running) return refused(*j, "running");
  j->phase = job.phase;
  j->bytes_done = job.bytes_done;
  j->bytes_total = job.bytes_total;
  j->backup_id = job.backup_id;
  j->warnings = job.warnings;
  j->resume = job.resume;
  return {};
}

outcome<void> fake_store::end_job_attempt(const job_record& job) {
  if (auto f = enter("end_job_attempt")) return *f;
  auto* j = find_job(job.id);
  if (!j) return failure{errc::not_found, "no job with id " + job.id};
  if (is_final(j->state)) return refused(*j, "queued or running");
  const auto keep = *j;
  *j = job;
  // What the end of an attempt does not own stays as stored.
  j->seq = keep.seq;
  j->app = keep.app;
  j->kind = keep.kind;
  j->trigger = keep.trigger;
  j->max_attempts = keep.max_attempts;
  j->created_at = keep.created_at;
  j->cancel_requested = keep.cancel_requested;
  return {};
}

outcome<job_record> fake_store::request_job_cancel(const std::string& id) {
  if (auto f = enter("request_job_cancel")) return *f;
  auto* j = find_job(id);
  if (!j) return failure{errc::not_found, "no job with id " + id};
  if (is_final(j->state))
    return failure{errc::conflict, "job " + id + " already " + std::string(to_string(j->state))};
  j->cancel_requested = true;
  return *j;
}

outcome<std::vector<job_record>> fake_store::list_jobs(const job_filter& filter) {
  if (auto f = enter("list_jobs")) return *f;
  std::vector<job_record> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend() && out.size() < filter.limit; ++it)
    if (matches(it->second, filter)) out.push_back(it->second);
  return out;
}

job_view fake_store::view_of(const job_record& job) {
  job_view v{job, std::nullopt, false};
  if (const auto* b = find_backup(job.backup_id)) {
    v.backup = *b;
    v.backup_orphaned = apps_.count(b->app) == 0;
  }
  return v;
}

outcome<std::vector<job_view>> fake_store::list_job_views(const job_filter& filter) {
  if (auto f = enter("list_job_views")) return *f;
  std::vector<job_view> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend() && out.size() < filter.limit; ++it)
    if (matches(it->second, filter)) out.push_back(view_of(it->second));
  return out;
}

outcome<std::optional<job_view>> fake_store::get_job_view(const std::string& id) {
  if (auto f = enter("get_job_view")) return *f;
  for (const auto& [seq, j] : jobs_)
    if (j.id == id) return std::optional<job_view>{view_of(j)};
  return std::optional<job_view>{};
}

outcome<std::optional<job_record>> fake_store::active_job(const std::string& app, job_kind kind) {
  if (auto f = enter("active_job")) return *f;
  for (const auto& [seq, j] : jobs_)
    if (j.app == app && j.kind == kind &&
        (j.state == job_state::queued || j.state == job_state::running))
      return std::optional<job_record>{j};
  return std::optional<job_record>{};
}

outcome<std::vector<job_record>> fake_store::jobs_in_state(job_state state) {
  if (auto f = enter("jobs_in_state")) return *f;
  std::vector<job_record> out;
  for (const auto& [seq, j] : jobs_)
    if (j.state == state) out.push_back(j);
  return out;
}

outcome<void> fake_store::insert_backup(backup_record& backup) {
  if (auto f = enter("insert_backup")) return *f;
  if (find_backup(backup.id))
    return failure{errc::conflict, "a backup with id " + backup.id + " exists"};
  backup.seq = ++last_backup_seq_;
  backups_[backup.seq] = backup;
  return {};
}

outcome<std::optional<backup_record>> fake_store::get_backup(const std::string& id) {
  if (auto f = enter("get_backup")) return *f;
  if (auto* b = find_backup(id)) return std::optional<backup_record>{*b};
  return std::optional<backup_record>{};
}

outcome<void> fake_store::update_backup(const backup_record& backup) {
  if (auto f = enter("update_backup")) return *f;
  auto* b = find_backup(backup.id);
  if (!b) return failure{errc::not_found, "no backup with id " + backup.id};
  const auto seq = b->seq;
  *b = backup;
  b->seq = seq;
  return {};
}

outcome<void> fake_store::delete_backup(const std::string& id) {
  if (auto f = enter("delete_backup")) return *f;
  auto* b = find_backup(id);
  if (!b) return failure{errc::not_found, "no backup with id " + id};
  backups_.erase(b->seq);
  return {};
}

outcome<std::vector<backup_record>> fake_store::list_backups(
    const std::string& app, std::size_t limit, std::optional<std::int64_t> before_seq) {
  if (auto f = enter("list_backups")) return *f;
  std::vector<backup_record> out;
  for (auto it = backups_.rbegin(); it != backups_.rend() && out.size() < limit; ++it)
    if (it->second.app == app && (!before_seq || it->first < *before_seq))
      out.push_back(it->second);
  return out;
}

outcome<std::vector<backup_record>> fake_store::backups_with_status(backup_status status) {
  if (auto f = enter("backups_with_status")) return *f;
  std::vector<backup_record> out;
  for (const auto& [seq, b] : backups_)
    if (b.status == status) out.push_back(b);
  return out;
}

namespace {

void add_backup_job(app_activity& a, const job_record& j) {
  if (j.kind != job_kind::backup || !is_final(j.state)) return;
  a.backups_finished[j.state] += 1;
  if (j.state == job_state::cancelled) return;
  if (j.state == job_state::succeeded) {
    a.bytes_succeeded += j.bytes_done;
    a.last_success = j;
  }
  a.last_backup = j;
  if (j.started_at && j.finished_at)
    a.durations[std::max<std::int64_t>(0, (*j.finished_at - *j.started_at).count())] += 1;
}

}  // namespace

outcome<std::vector<app_activity>> fake_store::app_activities_between(const std::string& first,
                                                                      const std::string& last) {
  if (first.empty() && last.empty()) return std::vector<app_activity>{};
  auto all = app_activities("");
  if (!all) return all;
  std::vector<app_activity> out;
  for (auto& a : *all)
    if (a.app >= first && a.app <= last) out.push_back(std::move(a));
  return out;
}

outcome<std::vector<app_activity>> fake_store::app_activities(const std::string& app) {
  if (auto f = enter("app_activities")) return *f;
  std::vector<app_activity> out;
  for (const auto& [name, record] : apps_) {
    if (!app.empty() && name != app) continue;
    app_activity a;
    a.app = name;
    for (const auto& [seq, j] : jobs_) {  // by seq: the last one seen is the newest
      if (j.app != name) continue;
      add_backup_job(a, j);
      if (j.kind == job_kind::verify && j.state == job_state::succeeded && j.finished_at &&
          (!a.last_verify_success_at || *a.last_verify_success_at < *j.finished_at))
        a.last_verify_success_at = j.finished_at;
    }
    for (const auto& [seq, b] : backups_) {
      if (b.app != name) continue;
      a.stored[b.status] += 1;
      if (is_good(b.status) &&
          (!a.newest_good_backup_at || *a.newest_good_backup_at < b.created_at))
        a.newest_good_backup_at = b.created_at;
    }
    out.push_back(std::move(a));
  }
  return out;
}

outcome<void> fake_store::insert_drill(drill_record& d) {
  if (auto f = enter("insert_drill")) return *f;
  for (const auto& x : drills_)
    if (x.id == d.id) return failure{errc::conflict, "a drill with id " + d.id + " exists"};
  d.seq = drills_.empty() ? 1 : drills_.back().seq + 1;
  drills_.push_back(d);
  return {};
}

outcome<std::vector<drill_record>> fake_store::list_drills(const std::string& backup_id,
                                                           std::size_t limit) {
  if (auto f = enter("list_drills")) return *f;
  std::vector<drill_record> out;
  for (auto it = drills_.rbegin(); it != drills_.rend() && out.size() < limit; ++it)
    if (it->backup_id == backup_id) out.push_back(*it);
  return out;
}

outcome<std::optional<drill_record>> fake_store::last_drill(const std::string& app,
                                                            bool passed_only) {
  if (auto f = enter("last_drill")) return *f;
  for (auto it = drills_.rbegin(); it != drills_.rend(); ++it)
    if (it->app == app && (it->passed || !passed_only)) return std::optional<drill_record>{*it};
  return std::optional<drill_record>{};
}

}  // namespace respaldo::test
