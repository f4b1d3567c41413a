// `respaldo drill APP [--backup ID] (--postgres URL | --into DIR)`: a restore test. The backup goes
// through the verified download of `restore`, is restored into a scratch target and checked; the
// summary says what was found, and the exit status is 0 only when every check passed.
#include <stdlib.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "respaldo/cli/cli_client.hpp"
#include "respaldo/cli/commands.hpp"
#include "respaldo/cli/render.hpp"
#include "respaldo/cli/run_program.hpp"

namespace respaldo::cli {

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

struct drill_target {
  enum class kind { postgres, mariadb, directory } type = kind::postgres;
  std::string where;  // the database URL (never printed) or the directory
};

struct drill_report {
  bool passed = false;
  std::string error;
  json::array tables;  // {name, rows}
  std::uint64_t entries = 0;
};

// The backup to drill: the one named (it must belong to APP), else the newest `available` one.
std::optional<json::object> pick_backup(const client_settings& s, client_transport& api,
                                        const std::string& app, const std::string* id,
                                        std::ostream& err) {
  if (id) {
    auto b = expect_object(s, api.get("/api/backups/" + encode(*id)), err);
    if (!b) return std::nullopt;
    if (text(*b, "app") != app) {
      err << "error: backup " << *id << " belongs to app " << text(*b, "app") << ", not " << app
          << "\n";
      return std::nullopt;
    }
    return b;
  }
  auto page = expect_object(s, api.get("/api/apps/" + encode(app) + "/backups?limit=500"), err);
  if (!page) return std::nullopt;
  if (const auto* items = page->if_contains("items"); items && items->is_array())
    for (const auto& item : items->as_array())
      if (item.is_object() && text(item.as_object(), "status") == "available")
        return item.as_object();
  err << "error: app " << app << " has no good (available) backup to drill\n";
  return std::nullopt;
}

program_result psql(const std::string& url, const std::string& sql) {
  return run_program(
      {"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "--dbname=" + url, "-c", sql});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

constexpr const char* user_tables =
    "select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_tables where "
    "schemaname not in ('pg_catalog', 'information_schema') order by 1";

// pg_restore into an empty database, then every table read and counted.
void drill_postgres(const std::string& url, const std::string& file, drill_report& r) {
  auto before = psql(url, user_tables);
  if (before.exit_status != 0) {
    r.error = "cannot read the target database: " + before.describe();
    return;
  }
  if (!lines_of(before.out).empty()) {
    r.error = "the target database is not empty (it has tables); give --postgres an empty one";
    return;
  }
  auto restored =
      run_program({"pg_restore", "--no-owner", "--exit-on-error", "--dbname=" + url, file});
  if (restored.exit_status != 0) {
    r.error = "pg_restore failed: " + restored.describe();
    return;
  }
  auto tables = psql(url, user_tables);
  if (tables.exit_status != 0) {
    r.error = "cannot list the restored tables: " + tables.describe();
    return;
  }
  for (const auto& t : lines_of(tables.out)) {
    auto count = psql(url, "select count(*) from " + t);
    if (count.exit_status != 0) {
      r.error = "table " + t + " is not readable: " + count.describe();
      return;
    }
    r.tables.push_back(json::object{{"name", t}, {"rows", std::stoull(lines_of(count.out).at(0))}});
  }
  r.passed = true;
}

// tar into an empty directory, then every entry walked.
void drill_directory(const std::string& dir, const std::string& file, drill_report& r) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir) || !fs::is_empty(dir, ec)) {
    r.error = "--into " + dir + " must be an empty (or new) directory";
    return;
  }
  auto extracted = run_program(
      {"tar", "--extract", "--preserve-permissions", "--file=" + file, "--directory=" + dir});
  if (extracted.exit_status != 0) {
    r.error = "tar failed: " + extracted.describe();
    return;
  }
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    ++r.entries;
  if (ec) {
    r.error = "cannot read the restored tree: " + ec.message();
    return;
  }
  r.passed = r.entries > 0;
  if (!r.passed) r.error = "the archive restored no file";
}

// mariadb://USER[:PASSWORD]@HOST[:PORT]/DATABASE as a client option file (the password stays off
// argv), or why the URL is not one.
std::string mariadb_option_file(const std::string& url, const std::string& path,
                                std::string& database) {
  constexpr std::string_view scheme = "mariadb://";
  if (url.rfind(scheme, 0) != 0) return "expected mariadb://USER[:PASSWORD]@HOST[:PORT]/DATABASE";
  const std::string rest = url.substr(scheme.size());
  const auto at = rest.rfind('@');
  const auto slash = rest.find('/', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || slash == std::string::npos || slash + 1 == rest.size())
    return "expected mariadb://USER[:PASSWORD]@HOST[:PORT]/DATABASE";
  const std::string userinfo = rest.substr(0, at);
  const std::string hostport = rest.substr(at + 1, slash - at - 1);
  database = rest.substr(slash + 1);
  const auto colon = userinfo.find(':');
  const auto pcolon = hostport.rfind(':');
  std::ofstream f(path, std::ios::trunc);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  f << "[client]\nuser=" << userinfo.substr(0, colon) << "\n";
  if (colon != std::string::npos) f << "password=" << userinfo.substr(colon + 1) << "\n";
  f << "host=" << hostport.substr(0, pcolon) << "\n";
  if (pcolon != std::string::npos) f << "port=" << hostport.substr(pcolon + 1) << "\n";
  f << "protocol=tcp\n";
  return f ? "" : "cannot write " + path;
}

// gunzip (for sql.gz), the mariadb client into an empty database, then every table counted.
void drill_mariadb(const std::string& url, const std::string& file, const std::string& format,
                   const std::string& scratch, drill_report& r) {
  const std::string options = scratch + "/client.cnf";
  std::string db;
  if (auto bad = mariadb_option_file(url, options, db); !bad.empty()) {
    r.error = "--mariadb: " + bad;
    return;
  }
  auto query = [&](const std::string& sql) {
    return run_program({"mariadb", "--defaults-extra-file=" + options, "-N", "-B", "-e", sql, db});
  };
  constexpr const char* base_tables =
      "select table_name from information_schema.tables where table_schema = database() and "
      "table_type = 'BASE TABLE' order by 1";
  auto before = query(base_tables);
  if (before.exit_status != 0) {
    r.error = "cannot read the target database: " + before.describe();
    return;
  }
  if (!lines_of(before.out).empty()) {
    r.error = "the target database is not empty (it has tables); give --mariadb an empty one";
    return;
  }
  std::string sql = file;
  if (format.size() > 3 && format.substr(format.size() - 3) == ".gz") {
    sql = scratch + "/backup.sql";
    auto unpacked = run_program({"gzip", "-d", "-c", file}, "/dev/null", sql);
    if (unpacked.exit_status != 0) {
      r.error = "gzip could not decompress the backup: " + unpacked.describe();
      return;
    }
  }
  auto restored = run_program({"mariadb", "--defaults-extra-file=" + options, db}, sql);
  if (restored.exit_status != 0) {
    r.error = "the mariadb client failed: " + restored.describe();
    return;
  }
  auto tables = query(base_tables);
  if (tables.exit_status != 0) {
    r.error = "cannot list the restored tables: " + tables.describe();
    return;
  }
  for (const auto& t : lines_of(tables.out)) {
    std::string quoted = "`";
    for (char c : t) quoted += c == '`' ? std::string("``") : std::string(1, c);
    quoted += "`";
    auto count = query("select count(*) from " + quoted);
    if (count.exit_status != 0) {
      r.error = "table " + t + " is not readable: " + count.describe();
      return;
    }
    r.tables.push_back(json::object{{"name", t}, {"rows", std::stoull(lines_of(count.out).at(0))}});
  }
  r.passed = true;
}

std::string target_name(const drill_target& t) {
  switch (t.type) {
    case drill_target::kind::postgres:
      return "postgres";
    case drill_target::kind::mariadb:
      return "mariadb";
    case drill_target::kind::directory:
      return "directory";
  }
  return "directory";
}

void print_report(const client_settings& s, const std::string& app, const json::object& b,
                  const drill_target& t, const drill_report& r, double seconds, std::ostream& out) {
  const std::string target = target_name(t);
  const bool database = t.type != drill_target::kind::directory;
  if (s.json) {
    json::object doc{{"app", app},
                     {"backup_id", text(b, "id")},
                     {"target", target},
                     {"passed", r.passed},
                     {"tables", r.tables},
                     {"entries", r.entries},
                     {"duration_seconds", seconds}};
    doc["error"] = r.error.empty() ? json::value(nullptr) : json::value(r.error);
    out << json::serialize(doc) << "\n";
    return;
  }
  out << "drill of " << app << ": backup " << text(b, "id") << " (" << text(b, "format") << ", "
      << human_bytes(number(b, "size").value_or(0)) << ") into "
      << (database ? "a " + target + " database" : t.where) << "\n";
  std::uint64_t rows = 0;
  for (const auto& item : r.tables) {
    const auto& o = item.as_object();
    rows += o.at("rows").to_number<std::uint64_t>();
    out << "  table " << o.at("name").as_string().c_str() << ": " << o.at("rows") << " rows\n";
  }
  if (t.type == drill_target::kind::directory) out << "  " << r.entries << " files and dirs\n";
  if (r.passed)
    out << "drill passed in " << static_cast<long>(seconds + 0.5) << "s"
        << (database ? ": " + std::to_string(r.tables.size()) + " tables readable, " +
                           std::to_string(rows) + " rows"
                     : std::string())
        << "\n";
  else
    out << "drill FAILED: " << r.error << "\n";
}

// POST /api/backups/{id}/drills, so the catalog, the app and /metrics show the drill.
bool report_to_server(const client_settings& s, client_transport& api, const std::string& id,
                      const drill_target& t, const drill_report& r, double seconds,
                      std::ostream& err) {
  std::uint64_t rows = 0;
  for (const auto& item : r.tables) rows += item.as_object().at("rows").to_number<std::uint64_t>();
  json::object doc{{"target", target_name(t)},  {"passed", r.passed}, {"duration_seconds", seconds},
                   {"tables", r.tables.size()}, {"rows", rows},       {"entries", r.entries}};
  if (!r.passed) doc["error"] = r.error.substr(0, 2000);
  const auto reply = api.call("POST", "/api/backups/" + encode(id) + "/drills",
                              json::serialize(doc), "application/json");
  if (success(reply)) return true;
  err << "error: the drill's result could not be reported to the server\n";
  report_failure(s, reply, err);
  return false;
}

int drill(const client_settings& s, client_transport& api, const std::string& app,
          const std::string* backup_id, const drill_target& t, std::ostream& out,
          std::ostream& err) {
  const auto started = std::chrono::steady_clock::now();
  auto b = pick_backup(s, api, app, backup_id, err);
  if (!b) return client_exit_failed;
  const std::string id = text(*b, "id");
  if (t.type == drill_target::kind::directory && text(*b, "format").rfind("tar", 0) != 0) {
    err << "error: backup " << id << " has format " << text(*b, "format")
        << "; --into restores tar backups (use --postgres for pgdump)\n";
    return client_exit_failed;
  }
  std::string scratch = (fs::temp_directory_path() / "respaldo-drill-XXXXXX").string();
  if (!::mkdtemp(scratch.data())) {
    err << "error: cannot create a temporary directory\n";
    return client_exit_failed;
  }
  const std::string file = scratch + "/backup";
  std::ostringstream restore_out;
  drill_report r;
  const int downloaded = restore_backup(s, api, id, file, false, restore_out, err);
  if (downloaded != client_exit_ok) {
    r.error = "the verified download of backup " + id + " failed";
  } else if (t.type == drill_target::kind::postgres) {
    drill_postgres(t.where, file, r);
  } else if (t.type == drill_target::kind::mariadb) {
    drill_mariadb(t.where, file, text(*b, "format"), scratch, r);
  } else {
    drill_directory(t.where, file, r);
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  print_report(s, app, *b, t, r, seconds, out);
  if (!report_to_server(s, api, id, t, r, seconds, err)) return client_exit_failed;
  return r.passed ? client_exit_ok : client_exit_failed;
}

}  // namespace

int drill_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  command_line a;
  const std::vector<option_spec> extra{
      {"--backup", true}, {"--postgres", true}, {"--mariadb", true}, {"--into", true}};
  if (auto done = parse_command(args, 0, extra, 1, "drill", "APP", a, out, err)) return *done;
  drill_target t;
  int targets = 0;
  for (auto [flag, kind] : {std::pair{"--postgres", drill_target::kind::postgres},
                            std::pair{"--mariadb", drill_target::kind::mariadb},
                            std::pair{"--into", drill_target::kind::directory}}) {
    const std::string* v = a.value(flag);
    if (!v) continue;
    ++targets;
    if (v->empty())
      return value_error(err, "drill",
                         std::string(flag) + ": expected a database URL or a directory");
    t = {kind, *v};
  }
  if (targets != 1)
    return usage_error(err, "drill",
                       "give one target: --postgres URL, --mariadb URL or --into DIR");
  client_settings settings;
  if (int rc = load_settings(a, "drill", settings, err)) return rc;
  const auto api = make_http_transport(settings);
  return drill(settings, *api, a.positional[0], a.value("--backup"), t, out, err);
}

}  // namespace respaldo::cli
