// `respaldo status [--json]`: exit 0 when every app is fresh and healthy, 1 otherwise.
#include "respaldo/cli/status.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <ostream>

#include "respaldo/cli/cli_client.hpp"
#include "respaldo/cli/commands.hpp"
#include "respaldo/cli/render.hpp"
#include "respaldo/core/time_format.hpp"

namespace respaldo::cli {

namespace json = boost::json;

std::string_view to_string(app_condition c) {
  switch (c) {
    case app_condition::stale:
      return "stale";
    case app_condition::failing:
      return "failing";
    case app_condition::unhealthy:
      return "unhealthy";
    case app_condition::ok:
      return "ok";
  }
  return "ok";
}

namespace {

bool is_true(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}
bool is_false(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && !v->as_bool();
}
std::optional<std::int64_t> integer(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return std::nullopt;
}
std::string string_or_empty(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

app_status status_of(const json::object& a) {
  app_status s;
  s.name = string_or_empty(a, "name");
  if (is_true(a, "stale")) s.problems.push_back(app_condition::stale);
  if (const json::object* last = object_field(a, "last_backup"))
    if (string_or_empty(*last, "state") == "failed") s.problems.push_back(app_condition::failing);
  if (is_false(a, "up")) s.problems.push_back(app_condition::unhealthy);
  s.worst = s.problems.empty() ? app_condition::ok : s.problems.front();
  s.next_run_at = string_or_empty(a, "next_run_at");
  if (const json::object* ok = object_field(a, "last_success")) {
    s.last_success_at = string_or_empty(*ok, "finished_at");
    s.last_size = number(*ok, "size");
    s.last_duration_seconds = integer(*ok, "duration_seconds");
  }
  return s;
}

std::string problems_text(const app_status& s) {
  if (s.problems.empty()) return "ok";
  std::string out;
  for (auto p : s.problems) out += (out.empty() ? "" : ",") + std::string(to_string(p));
  return out;
}

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

json::object status_json(const app_status& s) {
  json::array problems;
  for (auto p : s.problems) problems.emplace_back(to_string(p));
  auto or_null = [](const std::string& v) { return v.empty() ? json::value() : json::value(v); };
  return json::object{
      {"name", s.name},
      {"status", to_string(s.worst)},
      {"problems", std::move(problems)},
      {"last_success_at", or_null(s.last_success_at)},
      {"next_run_at", or_null(s.next_run_at)},
      {"last_size", s.last_size ? json::value(*s.last_size) : json::value()},
      {"last_duration_seconds",
       s.last_duration_seconds ? json::value(*s.last_duration_seconds) : json::value()}};
}

void print_status(std::ostream& out, const std::vector<app_status>& rows) {
  std::vector<std::vector<std::string>> table{
      {"APP", "STATUS", "LAST SUCCESS", "NEXT RUN", "LAST SIZE", "DURATION"}};
  for (const auto& s : rows)
    table.push_back({s.name, problems_text(s), or_dash(s.last_success_at), or_dash(s.next_run_at),
                     s.last_size ? human_bytes(*s.last_size) : "-",
                     s.last_duration_seconds
                         ? format_duration(std::chrono::seconds(*s.last_duration_seconds))
                         : "-"});
  print_table(out, table);
}

}  // namespace

std::vector<app_status> summarize_status(const json::array& apps) {
  std::vector<app_status> out;
  for (const auto& item : apps)
    if (item.is_object()) out.push_back(status_of(item.as_object()));
  std::stable_sort(out.begin(), out.end(), [](const app_status& a, const app_status& b) {
    if (a.worst != b.worst) return a.worst < b.worst;
    return a.name < b.name;
  });
  return out;
}

int status_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  command_line a;
  if (auto done = parse_command(args, 0, {}, 0, "status", "", a, out, err)) return *done;
  client_settings settings;
  if (int rc = load_settings(a, "status", settings, err)) return rc;
  const auto api = make_http_transport(settings);
  json::array items;
  if (int rc = list_all_apps(settings, *api, items, err)) return rc;
  const auto rows = summarize_status(items);
  const bool all_ok =
      std::all_of(rows.begin(), rows.end(), [](const app_status& s) { return s.problems.empty(); });
  if (settings.json) {
    json::array apps;
    for (const auto& s : rows) apps.push_back(status_json(s));
    out << json::serialize(json::object{{"ok", all_ok}, {"apps", std::move(apps)}}) << "\n";
  } else if (rows.empty()) {
    out << "no apps registered\n";
  } else {
    print_status(out, rows);
  }
  return all_ok ? client_exit_ok : client_exit_failed;
}

}  // namespace respaldo::cli
