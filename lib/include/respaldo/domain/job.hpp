// A job: one backup or restore verification of an app, with its progress and its outcome.
// The enums' spellings are what the REST API and the database hold.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace respaldo {

using sys_seconds = std::chrono::sys_seconds;

enum class job_state { queued, running, succeeded, failed, cancelled };
std::string_view to_string(job_state s);
std::optional<job_state> parse_job_state(std::string_view s);
inline bool is_final(job_state s) {
  return s == job_state::succeeded || s == job_state::failed || s == job_state::cancelled;
}

enum class job_kind { backup, verify };
std::string_view to_string(job_kind k);
std::optional<job_kind> parse_job_kind(std::string_view s);

enum class job_trigger { manual, schedule };
std::string_view to_string(job_trigger t);
std::optional<job_trigger> parse_job_trigger(std::string_view s);

// none is spelled "" (stored as such, shown as null).
enum class job_phase { none, probing, exporting, uploading, finalizing, pruning, verifying };
std::string_view to_string(job_phase p);
std::optional<job_phase> parse_job_phase(std::string_view s);

struct job_record {
  std::string id;
  std::int64_t seq = 0;  // insertion order; newest first listings sort on it
  std::string app;
  job_kind kind = job_kind::backup;
  job_trigger trigger = job_trigger::manual;
  job_state state = job_state::queued;
  job_phase phase = job_phase::none;
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

struct job_filter {
  std::string app;
  std::optional<job_state> state;
  std::optional<job_kind> kind;
  std::optional<std::int64_t> before_seq;  // cursor
  std::size_t limit = 50;
};

}  // namespace respaldo
