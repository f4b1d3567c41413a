// `respaldo apps list|get|register|delete`.
#include <boost/json.hpp>
#include <iostream>
#include <sstream>

#include "respaldo/cli/cli_client.hpp"
#include "respaldo/cli/commands.hpp"
#include "respaldo/cli/render.hpp"

namespace respaldo::cli {

namespace {

namespace json = boost::json;

// Largest registration file read (the server applies its own, smaller, body limit).
constexpr std::size_t register_file_limit = 16 * 1024 * 1024;

void print_app(std::ostream& out, const json::object& app) {
  std::string health = "-";
  if (const json::object* h = object_field(app, "health")) {
    health = text(*h, "status");
    if (text(*h, "checked_at") != "-") health += ", checked " + text(*h, "checked_at");
    if (text(*h, "detail") != "-") health += ": " + text(*h, "detail");
  }
  print_fields(out, {{"name", text(app, "name")},
                     {"url", text(app, "url")},
                     {"drive_folder_id", text(app, "drive_folder_id")},
                     {"schedule", text(app, "schedule") + " (" + text(app, "timezone") + ")"},
                     {"verify_schedule", text(app, "verify_schedule")},
                     {"retention", retention_text(app)},
                     {"next_run_at", text(app, "next_run_at")},
                     {"last_run_at", text(app, "last_run_at")},
                     {"last_success_at", text(app, "last_success_at")},
                     {"health", health},
                     {"created_at", text(app, "created_at")},
                     {"updated_at", text(app, "updated_at")}});
}

void print_app_table(std::ostream& out, const json::array& items) {
  std::vector<std::vector<std::string>> rows{
      {"NAME", "SCHEDULE", "TIMEZONE", "NEXT RUN", "LAST SUCCESS", "HEALTH"}};
  for (const auto& item : items) {
    if (!item.is_object()) continue;
    const auto& a = item.as_object();
    const json::object* h = object_field(a, "health");
    rows.push_back({text(a, "name"), text(a, "schedule"), text(a, "timezone"),
                    text(a, "next_run_at"), text(a, "last_success_at"),
                    h ? text(*h, "status") : "-"});
  }
  print_table(out, rows);
}

int apps_list(const client_settings& s, client_transport& api, std::ostream& out,
              std::ostream& err) {
  json::array items;
  if (int rc = list_all_apps(s, api, items, err)) return rc;
  if (s.json) {
    json::object all{{"items", std::move(items)}, {"next_cursor", nullptr}};
    out << json::serialize(all) << "\n";
  } else if (items.empty()) {
    out << "no apps registered\n";
  } else {
    print_app_table(out, items);
  }
  return client_exit_ok;
}

int apps_register(const client_settings& s, client_transport& api, std::string body,
                  std::ostream& out, std::ostream& err) {
  auto r = api.call("POST", "/api/apps", std::move(body), "application/json");
  auto answer = take_answer(s, r, out, err);
  if (!answer.object) return answer.exit;
  auto& o = answer.object;
  out << "registered app " << text(*o, "id") << "\n";
  return client_exit_ok;
}

int apps_get(const client_settings& s, client_transport& api, const std::string& name,
             std::ostream& out, std::ostream& err) {
  auto r = api.get("/api/apps/" + encode(name));
  auto answer = take_answer(s, r, out, err);
  if (!answer.object) return answer.exit;
  auto& o = answer.object;
  print_app(out, *o);
  return client_exit_ok;
}

int apps_delete(const client_settings& s, client_transport& api, const std::string& name,
                std::ostream& out, std::ostream& err) {
  auto r = api.call("DELETE", "/api/apps/" + encode(name), "", "");
  if (!success(r)) return report_failure(s, r, err);
  if (s.json) {
    json::object done{{"id", name}, {"status", "deleted"}};
    out << json::serialize(done) << "\n";
  } else {
    out << "deleted app " << name << " (its stored backups are kept)\n";
  }
  return client_exit_ok;
}

// The registration JSON of `apps register --file FILE` (FILE '-' is the standard input); the exit
// status when it cannot be read.
std::optional<int> read_registration(const command_line& a, std::string& body, std::ostream& err) {
  const auto* file = a.value("--file");
  if (!file) return usage_error(err, "apps", "missing --file FILE (the registration JSON, or -)");
  if (*file == "-") {
    std::ostringstream s;
    s << std::cin.rdbuf();
    body = s.str();
    return std::nullopt;
  }
  auto data = read_text_file(*file, register_file_limit);
  if (!data)
    return value_error(err, "apps", "--file: cannot read " + *file + ": " + data.error().message);
  body = std::move(*data);
  return std::nullopt;
}

}  // namespace

int list_all_apps(const client_settings& s, client_transport& api, json::array& items,
                  std::ostream& err) {
  std::string cursor;
  // Every page, so the list is complete; the page count is bounded against a looping cursor.
  for (int page = 0; page < 10000; ++page) {
    std::string path = "/api/apps?limit=500";
    if (!cursor.empty()) path += "&cursor=" + encode(cursor);
    auto r = api.get(path);
    if (!success(r)) return report_failure(s, r, err);
    auto o = expect_object(s, r, err);
    if (!o) return client_exit_failed;
    if (const json::value* v = o->if_contains("items"); v && v->is_array())
      for (const auto& item : v->as_array()) items.push_back(item);
    const json::value* next = o->if_contains("next_cursor");
    if (!next || !next->is_string() || next->as_string().empty()) break;
    cursor = std::string(next->as_string());
  }
  return client_exit_ok;
}

int apps_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty())
    return usage_error(err, "apps", "missing subcommand (list, get, register, delete)");
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << usage_of("apps") << common_help;
    return client_exit_ok;
  }
  std::vector<option_spec> extra;
  std::size_t positionals = 0;
  if (sub == "get" || sub == "delete") {
    positionals = 1;
  } else if (sub == "register") {
    extra.push_back({"--file", true});
  } else if (sub != "list") {
    return usage_error(err, "apps",
                       "unknown subcommand '" + sub + "' (expected list, get, register, delete)");
  }
  command_line a;
  if (auto done = parse_command(args, 1, extra, positionals, "apps", "app NAME", a, out, err))
    return *done;
  std::string body;
  if (sub == "register")
    if (auto done = read_registration(a, body, err)) return *done;

  client_settings settings;
  if (int rc = load_settings(a, "apps", settings, err)) return rc;
  const auto api = make_http_transport(settings);
  if (sub == "list") return apps_list(settings, *api, out, err);
  if (sub == "register") return apps_register(settings, *api, std::move(body), out, err);
  if (sub == "get") return apps_get(settings, *api, a.positional[0], out, err);
  return apps_delete(settings, *api, a.positional[0], out, err);
}

}  // namespace respaldo::cli
