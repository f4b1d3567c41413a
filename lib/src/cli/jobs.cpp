// `respaldo jobs list|get|cancel`.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <ostream>

#include "respaldo/cli/cli_client.hpp"
#include "respaldo/cli/commands.hpp"
#include "respaldo/cli/render.hpp"

namespace respaldo::cli {

namespace {

namespace json = boost::json;

void print_job(std::ostream& out, const json::object& job) {
  std::vector<std::pair<std::string, std::string>> f{
      {"id", text(job, "id")},
      {"app", text(job, "app")},
      {"kind", text(job, "kind") + " (" + text(job, "trigger") + ")"},
      {"state", text(job, "state")},
      {"phase", text(job, "phase")},
      {"progress", progress(job)},
      {"attempt", text(job, "attempt") + " of " + text(job, "max_attempts")},
      {"created_at", text(job, "created_at")},
      {"started_at", text(job, "started_at")},
      {"finished_at", text(job, "finished_at")}};
  if (text(job, "next_attempt_at") != "-")
    f.emplace_back("next_attempt_at", text(job, "next_attempt_at"));
  f.emplace_back("error", error_text(job));
  if (const json::object* b = object_field(job, "backup")) {
    f.emplace_back("backup", text(*b, "id"));
    const auto size = number(*b, "size");
    f.emplace_back("size", size ? human_bytes(*size) + " (" + std::to_string(*size) + " bytes)"
                                : std::string("-"));
    f.emplace_back("sha256", text(*b, "sha256"));
  }
  if (const json::value* w = job.if_contains("warnings"); w && w->is_array())
    for (const auto& item : w->as_array())
      if (item.is_string()) f.emplace_back("warning", std::string(item.as_string()));
  print_fields(out, f);
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

void print_job_table(std::ostream& out, const json::array& items) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "APP", "KIND", "STATE", "PHASE", "PROGRESS", "CREATED", "ERROR"}};
  for (const auto& item : items) {
    if (!item.is_object()) continue;
    const auto& j = item.as_object();
    const json::object* e = object_field(j, "error");
    rows.push_back({text(j, "id"), text(j, "app"), text(j, "kind"), text(j, "state"),
                    text(j, "phase"), progress(j), text(j, "created_at"),
                    e ? text(*e, "code") : "-"});
  }
  print_table(out, rows);
}

int jobs_list(const client_settings& s, client_transport& api, const command_line& a, int limit,
              std::ostream& out, std::ostream& err) {
  std::string path = "/api/jobs?limit=" + std::to_string(limit);
  if (const auto* v = a.value("--app")) path += "&app=" + encode(*v);
  if (const auto* v = a.value("--state")) path += "&state=" + encode(*v);
  if (const auto* v = a.value("--kind")) path += "&kind=" + encode(*v);
  auto r = api.get(path);
  auto answer = take_answer(s, r, out, err);
  if (!answer.object) return answer.exit;
  auto& o = answer.object;
  const json::value* items = o->if_contains("items");
  if (!items || !items->is_array() || items->as_array().empty()) {
    out << "no jobs\n";
    return client_exit_ok;
  }
  print_job_table(out, items->as_array());
  if (const json::value* next = o->if_contains("next_cursor"); next && next->is_string())
    out << "(older jobs not shown; raise --limit, up to 500)\n";
  return client_exit_ok;
}

int jobs_show(const client_settings& s, client_transport& api, const std::string& id, bool cancel,
              std::ostream& out, std::ostream& err) {
  auto r = cancel ? api.call("POST", "/api/jobs/" + encode(id) + "/cancel", "", "")
                  : api.get("/api/jobs/" + encode(id));
  auto answer = take_answer(s, r, out, err);
  if (!answer.object) return answer.exit;
  auto& o = answer.object;
  if (!cancel) {
    print_job(out, *o);
  } else if (text(*o, "state") == "cancelled") {
    out << "job " << id << " cancelled\n";
  } else {
    out << "cancellation of job " << id << " requested (it is " << text(*o, "state")
        << "; it stops shortly)\n";
  }
  return client_exit_ok;
}

// Checks the filters of `jobs list`; the exit status when one is wrong.
std::optional<int> check_filters(const command_line& a, int& limit, std::ostream& err) {
  if (const auto* v = a.value("--state");
      v && !one_of(*v, {"queued", "running", "succeeded", "failed", "cancelled"}))
    return usage_error(
        err, "jobs",
        "--state: expected queued, running, succeeded, failed or cancelled, got '" + *v + "'");
  if (const auto* v = a.value("--kind"); v && !one_of(*v, {"backup", "verify"}))
    return usage_error(err, "jobs", "--kind: expected backup or verify, got '" + *v + "'");
  if (const auto* v = a.value("--app"); v && v->empty())
    return usage_error(err, "jobs", "--app: expected an app name");
  if (const auto* v = a.value("--limit")) {
    const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (v->empty() || ec != std::errc{} || ptr != v->data() + v->size() || limit < 1 || limit > 500)
      return usage_error(err, "jobs", "--limit: expected a whole number 1-500, got '" + *v + "'");
  }
  return std::nullopt;
}

}  // namespace

int jobs_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) return usage_error(err, "jobs", "missing subcommand (list, get, cancel)");
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << usage_of("jobs") << common_help;
    return client_exit_ok;
  }
  std::vector<option_spec> extra;
  std::size_t positionals = 1;
  if (sub == "list") {
    extra = {{"--app", true}, {"--state", true}, {"--kind", true}, {"--limit", true}};
    positionals = 0;
  } else if (sub != "get" && sub != "cancel") {
    return usage_error(err, "jobs",
                       "unknown subcommand '" + sub + "' (expected list, get, cancel)");
  }
  command_line a;
  if (auto done = parse_command(args, 1, extra, positionals, "jobs", "job ID", a, out, err))
    return *done;
  int limit = 20;
  if (auto done = check_filters(a, limit, err)) return *done;

  client_settings settings;
  if (int rc = load_settings(a, "jobs", settings, err)) return rc;
  const auto api = make_http_transport(settings);
  if (sub == "list") return jobs_list(settings, *api, a, limit, out, err);
  return jobs_show(settings, *api, a.positional[0], sub == "cancel", out, err);
}

}  // namespace respaldo::cli
