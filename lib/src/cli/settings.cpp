// Common options of the client commands, and where the server URL and the admin token come from.
#include "respaldo/cli/settings.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ostream>

#include "respaldo/cli/cli_client.hpp"

namespace respaldo::cli {

namespace {

constexpr const char* default_server = "http://127.0.0.1:8080";

constexpr const char* apps_usage =
    "usage: respaldo apps list\n"
    "       respaldo apps get NAME\n"
    "       respaldo apps register --file FILE   (FILE '-' reads the standard input)\n"
    "       respaldo apps delete NAME            (stored backups are kept)\n";

constexpr const char* backup_usage =
    "usage: respaldo backup NAME [--wait] [--timeout DURATION]\n"
    "  starts a backup of app NAME and prints the job id; --wait follows the job (or the one\n"
    "  already running) until it ends: exit 0 succeeded, 1 failed or cancelled, 3 when\n"
    "  --timeout (e.g. 30s, 10m, 2h) passes first\n";

constexpr const char* jobs_usage =
    "usage: respaldo jobs list [--app NAME] [--state STATE] [--kind KIND] [--limit N]\n"
    "       respaldo jobs get ID\n"
    "       respaldo jobs cancel ID\n"
    "  STATE: queued, running, succeeded, failed, cancelled; KIND: backup, verify;\n"
    "  N: 1 to 500 (default 20), newest first\n";

constexpr const char* restore_usage =
    "usage: respaldo restore BACKUP_ID --output FILE [--force]\n"
    "  downloads the backup to FILE.partial while hashing it, and renames it to FILE only when\n"
    "  its size and SHA-256 match the catalog; a backup marked corrupt is refused;\n"
    "  --force replaces an existing FILE and tries a corrupt backup anyway\n";

constexpr const char* drill_usage =
    "usage: respaldo drill APP [--backup ID] (--postgres URL | --mariadb URL | --into DIR)\n"
    "  restores the app's newest good backup (or backup ID) through the verified download into a\n"
    "  scratch target: --postgres an empty database (pg_restore --no-owner), --mariadb\n"
    "  mariadb://USER[:PASSWORD]@HOST[:PORT]/DB an empty database (the mariadb client), --into an\n"
    "  empty directory (tar); checks it (every table readable, row counts; or the files), prints "
    "a\n"
    "  summary and reports it to the server; exit 0 only when every check passed\n";

constexpr const char* status_usage =
    "usage: respaldo status\n"
    "  every app on one screen, worst first (stale, failing, unhealthy, then ok), with its last\n"
    "  success, next run, last size and duration; exit 0 when all are fresh and healthy, 1\n"
    "  otherwise\n";

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  return s;
}

bool token_chars_ok(std::string_view t) {
  return std::all_of(t.begin(), t.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// --server, else RESPALDO_SERVER, else the default; returns 0 or the exit status.
int load_server(const command_line& a, std::string_view command, client_settings& s,
                std::ostream& err) {
  std::string server = default_server;
  std::string server_source = "--server";
  if (const auto* v = a.value("--server")) {
    server = *v;
  } else if (const char* env = std::getenv("RESPALDO_SERVER"); env && *env) {
    server = env;
    server_source = "RESPALDO_SERVER";
  }
  auto url = parse_http_url(server);
  if (!url) return value_error(err, command, server_source + ": " + url.error().message);
  if (url->target.find('?') != std::string::npos)
    return value_error(err, command, server_source + ": the server URL must not have a query");
  s.origin = url->origin;
  s.prefix = url->target;
  while (!s.prefix.empty() && s.prefix.back() == '/') s.prefix.pop_back();
  s.display = to_string(s.origin) + s.prefix;
  return 0;
}

// --token-file, else RESPALDO_ADMIN_TOKEN; returns 0 or the exit status.
int load_token(const command_line& a, std::string_view command, client_settings& s,
               std::ostream& err) {
  if (const auto* file = a.value("--token-file")) {
    auto text = read_text_file(*file, 64 * 1024);
    if (!text)
      return value_error(err, command,
                         "--token-file: cannot read " + *file + ": " + text.error().message);
    s.token = trim(*text);
    if (s.token.empty()) return value_error(err, command, "--token-file: " + *file + " is empty");
    if (!token_chars_ok(s.token))
      return value_error(err, command,
                         "--token-file: the token in " + *file +
                             " has characters an HTTP header cannot carry (spaces or control "
                             "characters)");
    return 0;
  }
  if (const char* env = std::getenv("RESPALDO_ADMIN_TOKEN"); env && *env) {
    s.token = trim(env);
    if (s.token.empty() || !token_chars_ok(s.token))
      return value_error(err, command,
                         "RESPALDO_ADMIN_TOKEN: the token is empty or has characters an HTTP "
                         "header cannot carry");
    return 0;
  }
  return value_error(err, command,
                     "no admin token: give --token-file FILE or set RESPALDO_ADMIN_TOKEN");
}

}  // namespace

const char* const common_help =
    "\n"
    "options of every client command:\n"
    "  --server URL        the respaldo server (default: $RESPALDO_SERVER, else "
    "http://127.0.0.1:8080)\n"
    "  --token-file FILE   file holding the admin token (default: $RESPALDO_ADMIN_TOKEN)\n"
    "  --ca-file FILE      extra trusted CA certificates (PEM) for an https server\n"
    "  --json              print the server's JSON instead of text\n"
    "\n"
    "exit status: 0 done; 1 refused by the server, unreachable, job failed or cancelled, restore\n"
    "not verified, status found an app stale, failing or unhealthy; 2 bad usage; 3 backup --wait\n"
    "--timeout expired\n";

const std::vector<option_spec>& common_options() {
  static const std::vector<option_spec> options{
      {"--server", true}, {"--token-file", true}, {"--ca-file", true}, {"--json", false}};
  return options;
}

const char* usage_of(std::string_view command) {
  if (command == "apps") return apps_usage;
  if (command == "backup") return backup_usage;
  if (command == "jobs") return jobs_usage;
  if (command == "status") return status_usage;
  if (command == "drill") return drill_usage;
  return restore_usage;
}

int usage_error(std::ostream& err, std::string_view command, const std::string& message) {
  err << "respaldo " << command << ": " << message << "\n" << usage_of(command);
  return client_exit_usage;
}

int value_error(std::ostream& err, std::string_view command, const std::string& message) {
  err << "respaldo " << command << ": " << message << "\n";
  return client_exit_usage;
}

std::optional<int> parse_command(const std::vector<std::string>& args, std::size_t from,
                                 const std::vector<option_spec>& extra, std::size_t positionals,
                                 std::string_view command, std::string_view missing,
                                 command_line& a, std::ostream& out, std::ostream& err) {
  std::vector<option_spec> options = common_options();
  options.insert(options.end(), extra.begin(), extra.end());
  auto parsed = parse_command_line(args, from, options);
  if (!parsed) return usage_error(err, command, parsed.error().message);
  a = std::move(*parsed);
  if (a.help) {
    out << usage_of(command) << common_help;
    return client_exit_ok;
  }
  if (a.positional.size() < positionals)
    return usage_error(err, command, "missing " + std::string(missing));
  if (a.positional.size() > positionals)
    return usage_error(err, command, "unexpected argument '" + a.positional[positionals] + "'");
  return std::nullopt;
}

outcome<std::string> read_text_file(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    return failure{{e, boost::system::generic_category()}, std::strerror(e)};
  }
  std::string data;
  std::array<char, 65536> buf;
  while (in) {
    in.read(buf.data(), buf.size());
    data.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (data.size() > limit)
      return failure{errc::invalid_argument, "larger than " + std::to_string(limit) + " bytes"};
  }
  if (in.bad()) return failure{make_error_code(std::errc::io_error), "read error"};
  return data;
}

int load_settings(const command_line& a, std::string_view command, client_settings& s,
                  std::ostream& err) {
  s.json = a.flag("--json");
  if (int rc = load_server(a, command, s, err)) return rc;
  if (const auto* ca = a.value("--ca-file")) {
    auto made = make_tls_context(*ca);
    if (!made) return value_error(err, command, "--ca-file: " + made.error().message);
    s.tls = std::move(*made);
  }
  return load_token(a, command, s, err);
}

}  // namespace respaldo::cli
