// The SQLite store: schema migrations and all persistent state (apps, jobs, backup catalog).
// One owner of the connection; calls are short and run on the io_context thread, and each call's
// duration is measured (see stats()) so a slow disk shows up in /metrics instead of hiding.
#pragma once

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/core/error.hpp"
#include "respaldo/plan/retention.hpp"

namespace respaldo {

class secret_box;
class logger;

using sys_seconds = std::chrono::sys_seconds;

struct app_health {
  std::string status = "unknown";  // unknown | ok | unreachable | unauthorized | invalid
  std::optional<sys_seconds> checked_at;
  std::string detail;
  std::optional<boost::json::object> capabilities;
};

struct app_record {
  std::string name;
  std::string url;
  std::string token;  // plaintext in memory only; sealed at rest
  std::string drive_folder_id;
  std::string schedule;
  std::string timezone;         // empty: the server's --timezone
  std::string verify_schedule;  // empty: none
  retention_policy retention;
  sys_seconds created_at{};
  sys_seconds updated_at{};
  std::optional<sys_seconds> next_run_at;
  std::optional<sys_seconds> last_run_at;
  std::optional<sys_seconds> last_success_at;
  std::optional<sys_seconds> next_verify_at;
  app_health health;
};

enum class job_state { queued, running, succeeded, failed, cancelled };
std::string_view to_string(job_state s);
std::optional<job_state> parse_job_state(std::string_view s);
inline bool is_final(job_state s) {
  return s == job_state::succeeded || s == job_state::failed || s == job_state::cancelled;
}

struct job_record {
  std::string id;
  std::int64_t seq = 0;  // insertion order; newest first listings sort on it
  std::string app;
  std::string kind = "backup";     // backup | verify
  std::string trigger = "manual";  // manual | schedule
  job_state state = job_state::queued;
  std::string phase;  // probing | exporting | uploading | finalizing | pruning | verifying
  std::uint64_t bytes_done = 0;
  std::optional<std::uint64_t> bytes_total;
  int attempt = 0;
  int max_attempts = 3;
  sys_seconds created_at{};
  std::optional<sys_seconds> started_at;
  std::optional<sys_seconds> finished_at;
  std::optional<sys_seconds> next_attempt_at;
  std::string error_code;
  std::string error_message;
  std::string backup_id;
  std::vector<std::string> warnings;
  std::string resume;  // JSON: what a restarted process needs to continue an upload
  bool cancel_requested = false;
};

struct backup_record {
  std::string id;
  std::int64_t seq = 0;
  std::string app;
  std::string job_id;
  sys_seconds created_at{};
  std::uint64_t size = 0;
  std::string sha256;
  std::string md5;
  std::string format;
  std::string storage;   // local | drive
  std::string location;  // path relative to the backups dir, or Drive file id
  std::string name;
  std::string folder;                // drive_folder_id at the time of the backup
  std::string status = "available";  // available | missing | deleting
  std::optional<sys_seconds> verified_at;
  int delete_attempts = 0;
  std::string last_error;
};

struct job_filter {
  std::string app;
  std::optional<job_state> state;
  std::string kind;
  std::optional<std::int64_t> before_seq;  // cursor
  std::size_t limit = 50;
};

struct store_stats {
  std::uint64_t calls = 0;
  std::uint64_t total_ns = 0;
  std::uint64_t max_ns = 0;
};

class store {
 public:
  static constexpr int schema_version = 1;

  // Opens (creating if needed) and migrates. Errors: store_not_a_database, store_schema_too_new,
  // store_error; `error_detail` receives a message naming the file.
  static boost::system::result<std::unique_ptr<store>> open(const std::string& path,
                                                            const secret_box& box, logger& log,
                                                            std::string* error_detail);
  ~store();

  bool healthy();
  const store_stats& stats() const { return stats_; }

  // apps
  boost::system::error_code insert_app(const app_record& app);  // conflict if the name exists
  boost::system::result<std::optional<app_record>> get_app(const std::string& name);
  boost::system::result<std::vector<app_record>> list_apps(std::size_t limit,
                                                           const std::string& after_name);
  boost::system::error_code update_app(const app_record& app);    // not_found if missing
  boost::system::error_code delete_app(const std::string& name);  // not_found if missing

  // jobs
  boost::system::error_code insert_job(job_record& job);  // assigns seq
  boost::system::result<std::optional<job_record>> get_job(const std::string& id);
  boost::system::error_code update_job(const job_record& job);
  boost::system::result<std::vector<job_record>> list_jobs(const job_filter& filter);
  boost::system::result<std::optional<job_record>> active_job(const std::string& app,
                                                              const std::string& kind);
  boost::system::result<std::vector<job_record>> jobs_in_state(job_state state);

  // backup catalog
  boost::system::error_code insert_backup(backup_record& backup);  // assigns seq
  boost::system::result<std::optional<backup_record>> get_backup(const std::string& id);
  boost::system::error_code update_backup(const backup_record& backup);
  boost::system::error_code delete_backup(const std::string& id);
  // Newest first; before_seq is the cursor.
  boost::system::result<std::vector<backup_record>> list_backups(
      const std::string& app, std::size_t limit, std::optional<std::int64_t> before_seq);
  boost::system::result<std::vector<backup_record>> backups_with_status(const std::string& status);
  boost::system::result<bool> app_exists(const std::string& name);

 private:
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  store_stats stats_;
  friend struct store_call;
};

}  // namespace respaldo
