// An in-memory store with the semantics of sqlite_store (sequence numbers, newest-first listings,
// cursors, conflicts, not_found, the job view join), for tests of the store's consumers. Tests can
// make chosen calls fail with store_error, as a broken database would.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/store/store.hpp"

namespace respaldo::test {

class fake_store final : public store {
 public:
  // Called with the operation's name ("insert_job", "healthy", ...) before each call; true makes
  // that call fail with store_error, leaving the state unchanged.
  std::function<bool(std::string_view operation)> fail_when;
  // How often each operation was called, failed calls included.
  std::map<std::string, int, std::less<>> calls;

  // Makes every call of `operation` fail from now on (on top of fail_when).
  void fail_operation(std::string operation) { failing_.push_back(std::move(operation)); }
  void heal() {
    failing_.clear();
    fail_when = nullptr;
  }

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
  // Counts the call; the failure to return when the test asked this operation to fail.
  std::optional<failure> enter(std::string_view operation);
  job_record* find_job(const std::string& id);
  backup_record* find_backup(const std::string& id);
  // A job with its backup, as the listings show it.
  job_view view_of(const job_record& job);

  std::map<std::string, app_record> apps_;   // by name: list_apps' order
  std::map<std::int64_t, job_record> jobs_;  // by seq: insertion order
  std::map<std::int64_t, backup_record> backups_;
  std::vector<drill_record> drills_;  // in seq order
  // Sequences are never reused, as with SQLite's AUTOINCREMENT.
  std::int64_t last_job_seq_ = 0;
  std::int64_t last_backup_seq_ = 0;
  std::map<std::string, notifier_record> notifiers_;
  std::map<std::int64_t, delivery_record> deliveries_;  // by seq
  std::int64_t last_delivery_seq_ = 0;
  std::vector<std::string> failing_;
  store_stats stats_;
};

}  // namespace respaldo::test
