// `respaldo backup NAME [--wait] [--timeout DURATION]`.
#include <boost/json.hpp>
#include <chrono>
#include <ostream>
#include <thread>

#include "respaldo/cli/cli_client.hpp"
#include "respaldo/cli/commands.hpp"
#include "respaldo/cli/render.hpp"
#include "respaldo/config/config.hpp"

namespace respaldo::cli {

namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

bool final_state(std::string_view s) {
  return s == "succeeded" || s == "failed" || s == "cancelled";
}

std::string format_duration(milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  return std::to_string(ms / 1000) + "s";
}

// Prints the state, phase and progress changes of a followed job (text mode).
class progress_printer {
 public:
  explicit progress_printer(std::ostream& out) : out_(out), last_print_(steady_clock::now()) {}

  void show(const json::object& job, const std::string& state) {
    const std::string key = state + " " + text(job, "phase") + " " + text(job, "attempt");
    std::string line = state;
    if (state == "running") {
      line += ": " + text(job, "phase");
      if (const std::string p = progress(job); p != "-") line += ", " + p;
    }
    const auto now = steady_clock::now();
    // Phase changes at once; progress within a phase at most every 5 s.
    if (key == last_key_ && (line == last_line_ || now - last_print_ < std::chrono::seconds(5)))
      return;
    if (state == "queued" && object_field(job, "error")) {
      const std::string retry = "attempt " + text(job, "attempt") + " failed: " + error_text(job) +
                                "; next attempt at " + text(job, "next_attempt_at");
      if (retry != last_retry_) out_ << retry << "\n";
      last_retry_ = retry;
    }
    out_ << line << "\n" << std::flush;
    last_key_ = key;
    last_line_ = line;
    last_print_ = now;
  }

 private:
  std::ostream& out_;
  std::string last_key_, last_line_, last_retry_;
  steady_clock::time_point last_print_;
};

// Prints the outcome of a finished job; exit 0 when it succeeded.
int report_outcome(const client_settings& s, const std::string& job_id, const json::object& job,
                   const std::string& body, std::ostream& out, std::ostream& err) {
  const std::string state = text(job, "state");
  if (s.json) {
    print_raw(out, body);
  } else if (state == "succeeded") {
    std::string line = "succeeded";
    if (const json::object* b = object_field(job, "backup")) {
      const auto size = number(*b, "size");
      line += ": backup " + text(*b, "id") + ", " + (size ? human_bytes(*size) : "-") +
              ", sha256 " + text(*b, "sha256");
    }
    out << line << "\n";
  }
  if (state == "succeeded") return client_exit_ok;
  const json::object* e = object_field(job, "error");
  err << "error: job " << job_id << (state == "cancelled" ? " was cancelled" : " failed");
  if (e) err << ": " << text(*e, "message") << " (" << text(*e, "code") << ")";
  err << "\n";
  return client_exit_failed;
}

// Prints the job's changes as GET /api/events streams them, until it is over, the deadline passes
// or the stream cannot be had (an older server, too many streams, a dropped connection); the
// polling that follows then reads the outcome, or carries on where the stream left off.
void follow_live(const client_settings& s, client_transport& api, const std::string& job_id,
                 std::optional<steady_clock::time_point> deadline, progress_printer& printer) {
  auto on_job = [&](const std::string& body) {
    auto job = parse_object(body);
    if (!job || text(*job, "id") != job_id) return true;
    const std::string state = text(*job, "state");
    if (final_state(state)) return false;
    if (!s.json) printer.show(*job, state);
    return true;
  };
  api.follow_job(job_id, on_job, deadline);
}

// Follows a job until it is over or `deadline` passes; prints state, phase and progress changes
// (text mode) and the outcome.
int wait_for_job(const client_settings& s, client_transport& api, const std::string& job_id,
                 std::optional<steady_clock::time_point> deadline, milliseconds timeout,
                 std::ostream& out, std::ostream& err) {
  progress_printer printer(out);
  follow_live(s, api, job_id, deadline, printer);
  milliseconds interval(200);
  int unreachable = 0;
  json::object job;
  std::string body;
  const std::string path = "/api/jobs/" + encode(job_id);
  while (true) {
    auto r = api.get(path);
    if (!r.reached) {
      // A server restarting under the job: a few polls may fail before it answers again.
      if (++unreachable >= 5) return report_failure(s, r, err);
    } else if (!success(r)) {
      return report_failure(s, r, err);
    } else {
      unreachable = 0;
      auto o = expect_object(s, r, err);
      if (!o) return client_exit_failed;
      job = std::move(*o);
      body = std::move(r.body);
      const std::string state = text(job, "state");
      if (final_state(state)) break;
      if (!s.json) printer.show(job, state);
    }
    const auto now = steady_clock::now();
    if (deadline && now >= *deadline) {
      err << "error: job " << job_id << " did not finish within " << format_duration(timeout)
          << " (last seen: " << (job.empty() ? std::string("unknown") : text(job, "state"))
          << "); it keeps running on the server: respaldo jobs get " << job_id << "\n";
      return client_exit_timeout;
    }
    auto pause = interval;
    if (deadline)
      pause = std::min(pause, std::chrono::duration_cast<milliseconds>(*deadline - now));
    std::this_thread::sleep_for(pause);
    interval = std::min(interval * 2, milliseconds(1000));
  }
  return report_outcome(s, job_id, job, body, out, err);
}

// Starts the backup, or with --wait finds the one already in progress; the job id, or the exit
// status when the command ends here.
std::optional<int> start_backup(const client_settings& s, client_transport& api,
                                const std::string& name, bool wait, std::string& job_id,
                                std::ostream& out, std::ostream& err) {
  auto r = api.call("POST", "/api/apps/" + encode(name) + "/backups", "", "");
  if (r.reached && r.status == 409 && wait) {
    // One backup per app at a time: follow the one already queued or running.
    auto problem = parse_object(r.body);
    const json::value* id = problem ? problem->if_contains("job_id") : nullptr;
    if (!id || !id->is_string()) return report_failure(s, r, err);
    job_id = std::string(id->as_string());
    if (!s.json)
      out << "a backup of " << name << " is already in progress: following job " << job_id << "\n"
          << std::flush;
    return std::nullopt;
  }
  if (!success(r)) return report_failure(s, r, err);
  auto o = expect_object(s, r, err);
  if (!o) return client_exit_failed;
  job_id = text(*o, "job_id");
  if (!wait) {
    if (s.json)
      print_raw(out, r.body);
    else
      out << job_id << "\n";
    return client_exit_ok;
  }
  if (!s.json) out << "job " << job_id << " started for app " << name << "\n" << std::flush;
  return std::nullopt;
}

}  // namespace

int backup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  command_line a;
  const std::vector<option_spec> extra{{"--wait", false}, {"--timeout", true}};
  if (auto done = parse_command(args, 0, extra, 1, "backup", "app NAME", a, out, err)) return *done;
  const bool wait = a.flag("--wait");
  milliseconds timeout(0);
  if (const auto* v = a.value("--timeout")) {
    if (!wait) return usage_error(err, "backup", "--timeout needs --wait");
    auto d = parse_duration(*v);
    if (!d || d->count() <= 0)
      return usage_error(err, "backup",
                         "--timeout: expected a duration such as 30s, 10m or 2h, got '" + *v + "'");
    timeout = *d;
  }
  const auto started = steady_clock::now();

  client_settings settings;
  if (int rc = load_settings(a, "backup", settings, err)) return rc;
  const auto api = make_http_transport(settings);
  std::string job_id;
  if (auto done = start_backup(settings, *api, a.positional[0], wait, job_id, out, err))
    return *done;
  std::optional<steady_clock::time_point> deadline;
  if (timeout.count() > 0) deadline = started + timeout;
  return wait_for_job(settings, *api, job_id, deadline, timeout, out, err);
}

}  // namespace respaldo::cli
