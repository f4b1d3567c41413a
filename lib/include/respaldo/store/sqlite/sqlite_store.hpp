// The SQLite store: schema migrations and all persistent state in one database file. One owner of
// the connection; each call's duration is measured (see stats()) so a slow disk shows up in
// /metrics instead of hiding.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "respaldo/core/error.hpp"
#include "respaldo/store/store.hpp"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace respaldo {

class logger;

inline constexpr int sqlite_schema_version = 6;

// Opens (creating if needed) and migrates the database at `path`. Errors: store_not_a_database,
// store_schema_too_new, store_error, each with a message naming the file.
outcome<std::unique_ptr<store>> make_sqlite_store(const std::string& path, logger& log);

class sqlite_store final : public store {
 public:
  sqlite_store(std::unique_ptr<SQLite::Database> db, logger& log);
  ~sqlite_store() override;

  // A use of a statement prepared once per connection (sqlite_call.hpp).
  class cached;

  bool healthy() override;
  const store_stats& stats() const override { return stats_; }

  outcome<void> insert_app(const app_record& app) override;
  outcome<std::optional<app_record>> get_app(const std::string& name) override;
  outcome<std::vector<app_record>> list_apps(std::size_t limit,
                                             const std::string& after_name) override;
  outcome<void> update_app(const app_record& app) override;
  outcome<void> delete_app(const std::string& name) override;
  outcome<bool> app_exists(const std::string& name) override;
  outcome<void> set_app_stale_since(const std::string& name,
                                    std::optional<sys_seconds> since) override;

  outcome<void> insert_job(job_record& job) override;
  outcome<std::optional<job_record>> get_job(const std::string& id) override;
  outcome<void> update_job(const job_record& job) override;
  outcome<void> start_job_attempt(const job_record& job) override;
  outcome<void> save_job_progress(const job_record& job) override;
  outcome<void> end_job_attempt(const job_record& job) override;
  outcome<job_record> request_job_cancel(const std::string& id) override;
  outcome<std::vector<job_record>> list_jobs(const job_filter& filter) override;
  outcome<std::vector<job_view>> list_job_views(const job_filter& filter) override;
  outcome<std::optional<job_view>> get_job_view(const std::string& id) override;
  outcome<std::optional<job_record>> active_job(const std::string& app, job_kind kind) override;
  outcome<std::vector<job_record>> jobs_in_state(job_state state) override;

  outcome<void> insert_backup(backup_record& backup) override;
  outcome<std::optional<backup_record>> get_backup(const std::string& id) override;
  outcome<void> update_backup(const backup_record& backup) override;
  outcome<void> delete_backup(const std::string& id) override;
  outcome<std::vector<backup_record>> list_backups(const std::string& app, std::size_t limit,
                                                   std::optional<std::int64_t> before_seq) override;
  outcome<std::vector<backup_record>> backups_with_status(backup_status status) override;
  outcome<std::vector<app_activity>> app_activities(const std::string& app) override;
  outcome<std::vector<app_activity>> app_activities_between(const std::string& first,
                                                            const std::string& last) override;

  outcome<void> insert_drill(drill_record& d) override;
  outcome<std::vector<drill_record>> list_drills(const std::string& backup_id,
                                                 std::size_t limit) override;
  outcome<std::optional<drill_record>> last_drill(const std::string& app,
                                                  bool passed_only) override;

  outcome<void> insert_notifier(const notifier_record& n) override;
  outcome<std::optional<notifier_record>> get_notifier(const std::string& name) override;
  outcome<std::vector<notifier_record>> list_notifiers() override;
  outcome<void> update_notifier(const notifier_record& n, bool clear_secret) override;
  outcome<void> delete_notifier(const std::string& name) override;
  outcome<void> insert_delivery(delivery_record& d) override;
  outcome<std::vector<delivery_record>> due_deliveries(sys_millis now, std::size_t limit) override;
  outcome<std::optional<sys_millis>> next_delivery_at() override;
  outcome<void> update_delivery(const delivery_record& d) override;
  outcome<std::vector<delivery_record>> list_deliveries(const std::string& notifier,
                                                        std::size_t limit) override;
  outcome<std::size_t> count_pending_deliveries() override;
  outcome<std::size_t> drop_oldest_pending(std::size_t keep) override;
  outcome<void> prune_deliveries(const std::string& notifier, std::size_t keep) override;

 private:
  // Activities of the apps named first..last (both empty: all).
  outcome<std::vector<app_activity>> read_activities(const std::string& first,
                                                     const std::string& last);
  struct call;  // measures one public call into stats_
  // Logs a backend failure and turns it into store_error.
  failure fail(const std::exception& e, std::string_view operation);

  SQLite::Statement& prepared(const std::string& sql);

  std::unique_ptr<SQLite::Database> db_;
  logger& log_;
  store_stats stats_;
  // The hot queries, parsed once: preparing one costs as much as running it.
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

}  // namespace respaldo
