// Client commands: argument parsing, REST calls run one at a time on a local io_context, and the
// rendering of the answers as short text for people or as the server's JSON for scripts.
#include "respaldo/cli/cli_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "respaldo/config/config.hpp"
#include "respaldo/core/file_io.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* default_server = "http://127.0.0.1:8080";
// Largest JSON answer taken from the server (a page of 500 jobs is well below it).
constexpr std::size_t json_limit = 16 * 1024 * 1024;
// Largest registration file read (the server applies its own, smaller, body limit).
constexpr std::size_t register_file_limit = 16 * 1024 * 1024;

constexpr const char* common_help =
    "\n"
    "options of every client command:\n"
    "  --server URL        the respaldo server (default: $RESPALDO_SERVER, else "
    "http://127.0.0.1:8080)\n"
    "  --token-file FILE   file holding the admin token (default: $RESPALDO_ADMIN_TOKEN)\n"
    "  --ca-file FILE      extra trusted CA certificates (PEM) for an https server\n"
    "  --json              print the server's JSON instead of text\n"
    "\n"
    "exit status: 0 done; 1 refused by the server, unreachable, job failed or cancelled, restore\n"
    "not verified; 2 bad usage; 3 backup --wait --timeout expired\n";

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
    "  its size and SHA-256 match the catalog; --force replaces an existing FILE\n";

const char* usage_of(std::string_view command) {
  if (command == "apps") return apps_usage;
  if (command == "backup") return backup_usage;
  if (command == "jobs") return jobs_usage;
  return restore_usage;
}

int usage_error(std::ostream& err, std::string_view command, const std::string& message) {
  err << "respaldo " << command << ": " << message << "\n" << usage_of(command);
  return client_exit_usage;
}

// A wrong value (a file that cannot be read, a malformed URL): the message alone.
int value_error(std::ostream& err, std::string_view command, const std::string& message) {
  err << "respaldo " << command << ": " << message << "\n";
  return client_exit_usage;
}

// --- arguments ---------------------------------------------------------------------------------

struct option_spec {
  std::string_view name;
  bool takes_value;
};

constexpr std::array<option_spec, 4> common_options{
    {{"--server", true}, {"--token-file", true}, {"--ca-file", true}, {"--json", false}}};

struct parsed_args {
  std::vector<std::string> positional;
  std::map<std::string, std::string, std::less<>> values;
  std::set<std::string, std::less<>> flags;
  bool help = false;

  const std::string* value(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  bool flag(std::string_view name) const { return flags.count(name) > 0; }
};

// Parses args[from...] against the common options and `extra`; returns an error message naming
// the option, or "".
std::string parse_args(const std::vector<std::string>& args, std::size_t from,
                       const std::vector<option_spec>& extra, parsed_args& out) {
  bool options_done = false;
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      out.help = true;
      continue;
    }
    std::string name = a;
    std::optional<std::string> inline_value;
    if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    const option_spec* spec = nullptr;
    for (const auto& o : common_options)
      if (o.name == name) spec = &o;
    for (const auto& o : extra)
      if (o.name == name) spec = &o;
    if (!spec) return "unknown option '" + name + "'";
    if (!spec->takes_value) {
      if (inline_value) return "option " + name + " takes no value";
      out.flags.insert(name);
      continue;
    }
    if (out.values.count(name)) return "option " + name + " given more than once";
    if (inline_value) {
      out.values[name] = *inline_value;
    } else if (i + 1 < args.size()) {
      out.values[name] = args[++i];
    } else {
      return "option " + name + " needs a value";
    }
  }
  return "";
}

// Parses a subcommand's arguments and checks it got exactly `positionals` positional arguments
// (`missing` names the first one for the message). Returns the exit code when the command ends
// here: help printed, or a usage error.
std::optional<int> parse_command(const std::vector<std::string>& args, std::size_t from,
                                 const std::vector<option_spec>& extra, std::size_t positionals,
                                 std::string_view command, std::string_view missing, parsed_args& a,
                                 std::ostream& out, std::ostream& err) {
  if (auto e = parse_args(args, from, extra, a); !e.empty()) return usage_error(err, command, e);
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

// --- settings ----------------------------------------------------------------------------------

struct client_settings {
  http_origin origin;
  std::string prefix;   // path of the server URL without the trailing '/', usually ""
  std::string display;  // scheme, host, port and prefix, for messages
  std::string token;    // never printed
  std::shared_ptr<tls_context> tls;
  bool json = false;
};

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  return s;
}

bool token_chars_ok(std::string_view t) {
  return std::all_of(t.begin(), t.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Reads a whole file, at most `limit` bytes; the error says why (never what the file holds).
std::optional<std::string> read_file(const std::string& path, std::size_t limit, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::strerror(errno);
    return std::nullopt;
  }
  std::string data;
  std::array<char, 65536> buf;
  while (in) {
    in.read(buf.data(), buf.size());
    data.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (data.size() > limit) {
      why = "larger than " + std::to_string(limit) + " bytes";
      return std::nullopt;
    }
  }
  if (in.bad()) {
    why = "read error";
    return std::nullopt;
  }
  return data;
}

// Fills `s` from the common options and the environment; returns 0, or the exit status after
// printing why.
int load_settings(const parsed_args& a, std::string_view command, client_settings& s,
                  std::ostream& err) {
  s.json = a.flag("--json");

  std::string server = default_server;
  std::string server_source = "--server";
  if (const auto* v = a.value("--server")) {
    server = *v;
  } else if (const char* env = std::getenv("RESPALDO_SERVER"); env && *env) {
    server = env;
    server_source = "RESPALDO_SERVER";
  }
  auto url = parse_http_url(server);
  if (!url) return value_error(err, command, server_source + ": " + url.error());
  if (url->target.find('?') != std::string::npos)
    return value_error(err, command, server_source + ": the server URL must not have a query");
  s.origin = url->origin;
  s.prefix = url->target;
  while (!s.prefix.empty() && s.prefix.back() == '/') s.prefix.pop_back();
  s.display = to_string(s.origin) + s.prefix;

  if (const auto* ca = a.value("--ca-file")) {
    std::string why;
    s.tls = make_tls_context(*ca, &why);
    if (!s.tls) return value_error(err, command, "--ca-file: " + why);
  }

  if (const auto* file = a.value("--token-file")) {
    std::string why;
    auto text = read_file(*file, 64 * 1024, why);
    if (!text) return value_error(err, command, "--token-file: cannot read " + *file + ": " + why);
    s.token = trim(*text);
    if (s.token.empty()) return value_error(err, command, "--token-file: " + *file + " is empty");
    if (!token_chars_ok(s.token))
      return value_error(err, command,
                         "--token-file: the token in " + *file +
                             " has characters an HTTP header cannot carry (spaces or control "
                             "characters)");
  } else if (const char* env = std::getenv("RESPALDO_ADMIN_TOKEN"); env && *env) {
    s.token = trim(env);
    if (s.token.empty() || !token_chars_ok(s.token))
      return value_error(err, command,
                         "RESPALDO_ADMIN_TOKEN: the token is empty or has characters an HTTP "
                         "header cannot carry");
  } else {
    return value_error(err, command,
                       "no admin token: give --token-file FILE or set RESPALDO_ADMIN_TOKEN");
  }

  return 0;
}

// --- HTTP --------------------------------------------------------------------------------------

// RFC 3986 unreserved characters stay, everything else is percent-encoded (path segments and
// query values alike).
std::string encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

struct api_reply {
  bool reached = false;  // an HTTP answer arrived
  std::string failure;   // why not (connection, TLS, timeout, broken answer)
  unsigned status = 0;
  std::string reason;
  std::string body;
};

std::string describe(const boost::system::error_code& ec, const std::string& detail) {
  return detail.empty() ? ec.message() : detail;
}

// A request on a kept-alive connection that the server closed while it was idle fails before any
// answer; it is sent once more on a fresh connection.
bool closed_while_idle(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

asio::awaitable<api_reply> exchange(http_client& client, const http_origin& origin,
                                    const http_client_request& req) {
  api_reply out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string why;
    auto conn = co_await client.acquire(origin, &why);
    if (!conn) {
      out.failure = describe(conn.error(), why);
      co_return out;
    }
    auto head = co_await (*conn)->request(req);
    if (!head) {
      if (attempt == 0 && (*conn)->reused() && closed_while_idle(head.error())) continue;
      out.failure = describe(head.error(), (*conn)->last_error_detail());
      co_return out;
    }
    auto body = co_await (*conn)->read_body_all(json_limit);
    if (!body) {
      out.failure = describe(body.error(), (*conn)->last_error_detail());
      co_return out;
    }
    out.reached = true;
    out.status = head->status;
    out.reason = head->reason;
    out.body = std::move(*body);
    client.release(std::move(*conn));
    co_return out;
  }
  co_return out;
}

// What a download of a backup's content came to.
struct download_result {
  api_reply reply;             // failure before an answer, or a refusal (status and body)
  bool ok_status = false;      // a 200 whose body was (at least partly) read
  std::string header_problem;  // X-Size / X-Checksum-SHA256 missing or malformed
  std::uint64_t expected_size = 0;
  std::string expected_sha256;
  std::string format;
  std::uint64_t received = 0;
  bool complete = false;     // the body ended normally
  std::string sha256;        // of the received bytes, when complete
  std::string stream_error;  // why the body broke off
  std::string write_error;
};

// Streams the body into `fd` chunk by chunk, hashing each chunk as it passes: the file is never
// held in memory.
asio::awaitable<download_result> download_to(http_client& client, const http_origin& origin,
                                             const http_client_request& req, int fd,
                                             const std::string& partial_path) {
  download_result out;
  std::string why;
  auto conn = co_await client.acquire(origin, &why);
  if (!conn) {
    out.reply.failure = describe(conn.error(), why);
    co_return out;
  }
  auto head = co_await (*conn)->request(req);
  if (!head) {
    out.reply.failure = describe(head.error(), (*conn)->last_error_detail());
    co_return out;
  }
  out.reply.reached = true;
  out.reply.status = head->status;
  out.reply.reason = head->reason;
  if (head->status != 200) {
    auto body = co_await (*conn)->read_body_all(json_limit);
    if (body) out.reply.body = std::move(*body);
    co_return out;
  }
  out.ok_status = true;

  const auto size_text = head->header("X-Size");
  const auto sum_text = head->header("X-Checksum-SHA256");
  if (auto fmt = head->header("X-Format")) out.format = std::string(*fmt);
  if (!size_text || !sum_text) {
    out.header_problem = std::string("the answer lacks the ") +
                         (size_text ? "X-Checksum-SHA256" : "X-Size") + " header";
    co_return out;
  }
  const char* first = size_text->data();
  const char* last = first + size_text->size();
  auto [ptr, ec] = std::from_chars(first, last, out.expected_size);
  if (size_text->empty() || ec != std::errc{} || ptr != last) {
    out.header_problem = "X-Size is not a byte count: '" + std::string(*size_text) + "'";
    co_return out;
  }
  if (!is_sha256_hex(*sum_text)) {
    out.header_problem = "X-Checksum-SHA256 is not 64 hex digits: '" + std::string(*sum_text) + "'";
    co_return out;
  }
  out.expected_sha256 = std::string(*sum_text);
  std::transform(out.expected_sha256.begin(), out.expected_sha256.end(),
                 out.expected_sha256.begin(), [](unsigned char c) { return std::tolower(c); });

  std::vector<char> buf(256 * 1024);
  const asio::mutable_buffer space(buf.data(), buf.size());
  sha256 hash;
  while (true) {
    auto n = co_await (*conn)->read_body_some(space);
    if (!n) {
      out.stream_error = describe(n.error(), (*conn)->last_error_detail());
      co_return out;
    }
    if (*n == 0) break;
    hash.update(buf.data(), *n);
    if (write_fully(fd, buf.data(), *n) != 0) {
      out.write_error = "cannot write " + partial_path + ": " + std::strerror(errno);
      co_return out;
    }
    out.received += *n;
  }
  out.complete = true;
  out.sha256 = hash.finish_hex();
  client.release(std::move(*conn));
  co_return out;
}

// Runs one coroutine to completion on `io` (the only place the io_context runs).
template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> value;
  std::exception_ptr failure;
  auto done = [&value, &failure](std::exception_ptr e, T v) {
    if (e)
      failure = e;
    else
      value = std::move(v);
  };
  asio::co_spawn(io, std::move(task), done);
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*value);
}

class api_client {
 public:
  explicit api_client(const client_settings& s)
      : settings_(s), client_(io_.get_executor(), options(), s.tls) {}

  api_reply call(std::string method, const std::string& path, std::string body,
                 std::string content_type) {
    http_client_request req = request(std::move(method), path);
    if (!content_type.empty()) req.headers.push_back({"Content-Type", std::move(content_type)});
    req.body = body;
    return run(io_, exchange(client_, settings_.origin, req));
  }
  api_reply get(const std::string& path) { return call("GET", path, "", ""); }

  download_result download(const std::string& path, int fd, const std::string& partial_path) {
    http_client_request req = request("GET", path);
    return run(io_, download_to(client_, settings_.origin, req, fd, partial_path));
  }

  const client_settings& settings() const { return settings_; }

 private:
  static http_client_options options() {
    http_client_options o;
    o.connect_timeout = std::chrono::seconds(10);
    o.io_timeout = std::chrono::seconds(60);
    return o;
  }
  http_client_request request(std::string method, const std::string& path) const {
    http_client_request req;
    req.method = std::move(method);
    req.target = settings_.prefix + path;
    req.headers.push_back({"Authorization", "Bearer " + settings_.token});
    req.headers.push_back({"Accept", "application/json"});
    return req;
  }

  const client_settings& settings_;
  asio::io_context io_{1};
  http_client client_;
};

// --- answers -----------------------------------------------------------------------------------

std::optional<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// Prints why a call did not succeed and returns the exit status (1).
int report_failure(const api_client& api, const api_reply& r, std::ostream& err) {
  if (!r.reached) {
    err << "error: cannot reach the respaldo server at " << api.settings().display << ": "
        << r.failure << "\n";
    return client_exit_failed;
  }
  auto problem = parse_object(r.body);
  const json::value* detail = problem ? problem->if_contains("detail") : nullptr;
  const json::value* code = problem ? problem->if_contains("code") : nullptr;
  if (detail && detail->is_string() && code && code->is_string()) {
    err << "error: " << detail->as_string().c_str() << " (" << code->as_string().c_str() << ")\n";
  } else {
    err << "error: HTTP " << r.status << (r.reason.empty() ? "" : " ") << r.reason << " from "
        << api.settings().display << " (is it a respaldo server?)\n";
  }
  if (r.status == 401)
    err << "hint: the server refused the admin token; check --token-file or "
           "RESPALDO_ADMIN_TOKEN\n";
  return client_exit_failed;
}

// The object of a successful answer; prints an error when it is not one.
std::optional<json::object> expect_object(const api_client& api, const api_reply& r,
                                          std::ostream& err) {
  auto o = parse_object(r.body);
  if (!o)
    err << "error: the answer of " << api.settings().display
        << " is not the JSON object expected (HTTP " << r.status << ")\n";
  return o;
}

bool success(const api_reply& r) {
  return r.reached && r.status >= 200 && r.status < 300;
}

// A field for people: strings as they are, null or absent as "-".
std::string text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "true" : "false";
  return json::serialize(*v);
}

std::optional<std::uint64_t> number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return std::nullopt;
}

const json::object* object_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::string human_bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  std::size_t u = 0;
  v /= 1024;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string progress(const json::object& job) {
  const auto done = number(job, "bytes_done").value_or(0);
  const auto total = number(job, "bytes_total");
  if (!total) return done ? human_bytes(done) : "-";
  std::string s = human_bytes(done) + " of " + human_bytes(*total);
  if (*total > 0) s += " (" + std::to_string(done * 100 / *total) + "%)";
  return s;
}

std::string retention_text(const json::object& app) {
  const json::object* r = object_field(app, "retention");
  if (!r) return "-";
  std::string s;
  for (const auto& [k, v] : *r) {
    if (!s.empty()) s += ' ';
    s += std::string(k) + "=" + json::serialize(v);
  }
  return s;
}

std::string error_text(const json::object& job) {
  const json::object* e = object_field(job, "error");
  if (!e) return "-";
  return text(*e, "message") + " (" + text(*e, "code") + ")";
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& f) {
  std::size_t width = 0;
  for (const auto& [k, v] : f) width = std::max(width, k.size());
  for (const auto& [k, v] : f)
    out << k << ":" << std::string(width - k.size() + 2, ' ') << v << "\n";
}

void print_raw(std::ostream& out, const std::string& body) {
  out << body;
  if (body.empty() || body.back() != '\n') out << "\n";
}

// --- apps --------------------------------------------------------------------------------------

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

int apps_list(api_client& api, std::ostream& out, std::ostream& err) {
  json::array items;
  std::string cursor;
  // Every page, so the list is complete; the page count is bounded against a looping cursor.
  for (int page = 0; page < 10000; ++page) {
    std::string path = "/api/apps?limit=500";
    if (!cursor.empty()) path += "&cursor=" + encode(cursor);
    auto r = api.get(path);
    if (!success(r)) return report_failure(api, r, err);
    auto o = expect_object(api, r, err);
    if (!o) return client_exit_failed;
    if (const json::value* v = o->if_contains("items"); v && v->is_array())
      for (const auto& item : v->as_array()) items.push_back(item);
    const json::value* next = o->if_contains("next_cursor");
    if (!next || !next->is_string() || next->as_string().empty()) break;
    cursor = std::string(next->as_string());
  }
  if (api.settings().json) {
    json::object all{{"items", std::move(items)}, {"next_cursor", nullptr}};
    out << json::serialize(all) << "\n";
    return client_exit_ok;
  }
  if (items.empty()) {
    out << "no apps registered\n";
    return client_exit_ok;
  }
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
  return client_exit_ok;
}

int apps_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty())
    return usage_error(err, "apps", "missing subcommand (list, get, register, delete)");
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << apps_usage << common_help;
    return client_exit_ok;
  }
  std::vector<option_spec> extra;
  std::size_t positionals = 0;
  if (sub == "list") {
  } else if (sub == "get" || sub == "delete") {
    positionals = 1;
  } else if (sub == "register") {
    extra.push_back({"--file", true});
  } else {
    return usage_error(err, "apps",
                       "unknown subcommand '" + sub + "' (expected list, get, register, delete)");
  }
  parsed_args a;
  if (auto done = parse_command(args, 1, extra, positionals, "apps", "app NAME", a, out, err))
    return *done;

  std::string body;
  if (sub == "register") {
    const auto* file = a.value("--file");
    if (!file) return usage_error(err, "apps", "missing --file FILE (the registration JSON, or -)");
    if (*file == "-") {
      std::ostringstream s;
      s << std::cin.rdbuf();
      body = s.str();
    } else {
      std::string why;
      auto data = read_file(*file, register_file_limit, why);
      if (!data) return value_error(err, "apps", "--file: cannot read " + *file + ": " + why);
      body = std::move(*data);
    }
  }

  client_settings settings;
  if (int rc = load_settings(a, "apps", settings, err)) return rc;
  api_client api(settings);

  if (sub == "list") return apps_list(api, out, err);
  if (sub == "register") {
    auto r = api.call("POST", "/api/apps", std::move(body), "application/json");
    if (!success(r)) return report_failure(api, r, err);
    if (settings.json) {
      print_raw(out, r.body);
      return client_exit_ok;
    }
    auto o = expect_object(api, r, err);
    if (!o) return client_exit_failed;
    out << "registered app " << text(*o, "id") << "\n";
    return client_exit_ok;
  }
  const std::string& name = a.positional[0];
  const std::string path = "/api/apps/" + encode(name);
  if (sub == "get") {
    auto r = api.get(path);
    if (!success(r)) return report_failure(api, r, err);
    if (settings.json) {
      print_raw(out, r.body);
      return client_exit_ok;
    }
    auto o = expect_object(api, r, err);
    if (!o) return client_exit_failed;
    print_app(out, *o);
    return client_exit_ok;
  }
  // delete
  auto r = api.call("DELETE", path, "", "");
  if (!success(r)) return report_failure(api, r, err);
  if (settings.json) {
    json::object done{{"id", name}, {"status", "deleted"}};
    out << json::serialize(done) << "\n";
  } else {
    out << "deleted app " << name << " (its stored backups are kept)\n";
  }
  return client_exit_ok;
}

// --- jobs --------------------------------------------------------------------------------------

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

int jobs_list(api_client& api, const parsed_args& a, int limit, std::ostream& out,
              std::ostream& err) {
  std::string path = "/api/jobs?limit=" + std::to_string(limit);
  if (const auto* v = a.value("--app")) path += "&app=" + encode(*v);
  if (const auto* v = a.value("--state")) path += "&state=" + encode(*v);
  if (const auto* v = a.value("--kind")) path += "&kind=" + encode(*v);
  auto r = api.get(path);
  if (!success(r)) return report_failure(api, r, err);
  if (api.settings().json) {
    print_raw(out, r.body);
    return client_exit_ok;
  }
  auto o = expect_object(api, r, err);
  if (!o) return client_exit_failed;
  const json::value* items = o->if_contains("items");
  if (!items || !items->is_array() || items->as_array().empty()) {
    out << "no jobs\n";
    return client_exit_ok;
  }
  std::vector<std::vector<std::string>> rows{
      {"ID", "APP", "KIND", "STATE", "PHASE", "PROGRESS", "CREATED", "ERROR"}};
  for (const auto& item : items->as_array()) {
    if (!item.is_object()) continue;
    const auto& j = item.as_object();
    const json::object* e = object_field(j, "error");
    rows.push_back({text(j, "id"), text(j, "app"), text(j, "kind"), text(j, "state"),
                    text(j, "phase"), progress(j), text(j, "created_at"),
                    e ? text(*e, "code") : "-"});
  }
  print_table(out, rows);
  if (const json::value* next = o->if_contains("next_cursor"); next && next->is_string())
    out << "(older jobs not shown; raise --limit, up to 500)\n";
  return client_exit_ok;
}

int jobs_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) return usage_error(err, "jobs", "missing subcommand (list, get, cancel)");
  const std::string& sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << jobs_usage << common_help;
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
  parsed_args a;
  if (auto done = parse_command(args, 1, extra, positionals, "jobs", "job ID", a, out, err))
    return *done;
  if (const auto* v = a.value("--state");
      v && !one_of(*v, {"queued", "running", "succeeded", "failed", "cancelled"}))
    return usage_error(
        err, "jobs",
        "--state: expected queued, running, succeeded, failed or cancelled, got '" + *v + "'");
  if (const auto* v = a.value("--kind"); v && !one_of(*v, {"backup", "verify"}))
    return usage_error(err, "jobs", "--kind: expected backup or verify, got '" + *v + "'");
  if (const auto* v = a.value("--app"); v && v->empty())
    return usage_error(err, "jobs", "--app: expected an app name");
  int limit = 20;
  if (const auto* v = a.value("--limit")) {
    const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (v->empty() || ec != std::errc{} || ptr != v->data() + v->size() || limit < 1 || limit > 500)
      return usage_error(err, "jobs", "--limit: expected a whole number 1-500, got '" + *v + "'");
  }

  client_settings settings;
  if (int rc = load_settings(a, "jobs", settings, err)) return rc;
  api_client api(settings);
  if (sub == "list") return jobs_list(api, a, limit, out, err);

  const std::string& id = a.positional[0];
  const bool cancel = sub == "cancel";
  auto r = cancel ? api.call("POST", "/api/jobs/" + encode(id) + "/cancel", "", "")
                  : api.get("/api/jobs/" + encode(id));
  if (!success(r)) return report_failure(api, r, err);
  if (settings.json) {
    print_raw(out, r.body);
    return client_exit_ok;
  }
  auto o = expect_object(api, r, err);
  if (!o) return client_exit_failed;
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

// --- backup ------------------------------------------------------------------------------------

bool final_state(std::string_view s) {
  return s == "succeeded" || s == "failed" || s == "cancelled";
}

std::string format_duration(milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  return std::to_string(ms / 1000) + "s";
}

// Follows a job until it is over or `deadline` passes; prints state, phase and progress changes
// (text mode) and the outcome.
int wait_for_job(api_client& api, const std::string& job_id,
                 std::optional<steady_clock::time_point> deadline, milliseconds timeout,
                 std::ostream& out, std::ostream& err) {
  const bool json_mode = api.settings().json;
  std::string last_key, last_line;
  std::string last_retry;
  auto last_print = steady_clock::now();
  milliseconds interval(200);
  int unreachable = 0;
  json::object job;
  std::string body;
  const std::string path = "/api/jobs/" + encode(job_id);
  while (true) {
    auto r = api.get(path);
    if (!r.reached) {
      // A server restarting under the job: a few polls may fail before it answers again.
      if (++unreachable >= 5) return report_failure(api, r, err);
    } else if (!success(r)) {
      return report_failure(api, r, err);
    } else {
      unreachable = 0;
      auto o = expect_object(api, r, err);
      if (!o) return client_exit_failed;
      job = std::move(*o);
      body = std::move(r.body);
      const std::string state = text(job, "state");
      if (final_state(state)) break;
      if (!json_mode) {
        const std::string key = state + " " + text(job, "phase") + " " + text(job, "attempt");
        std::string line = state;
        if (state == "running") {
          line += ": " + text(job, "phase");
          if (const std::string p = progress(job); p != "-") line += ", " + p;
        }
        const auto now = steady_clock::now();
        // Phase changes at once; progress within a phase at most every 5 s.
        if (key != last_key || (line != last_line && now - last_print >= std::chrono::seconds(5))) {
          if (state == "queued" && object_field(job, "error")) {
            const std::string retry = "attempt " + text(job, "attempt") +
                                      " failed: " + error_text(job) + "; next attempt at " +
                                      text(job, "next_attempt_at");
            if (retry != last_retry) out << retry << "\n";
            last_retry = retry;
          }
          out << line << "\n" << std::flush;
          last_key = key;
          last_line = line;
          last_print = now;
        }
      }
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

  const std::string state = text(job, "state");
  if (json_mode) {
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

int backup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  parsed_args a;
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
  api_client api(settings);
  const std::string& name = a.positional[0];
  auto r = api.call("POST", "/api/apps/" + encode(name) + "/backups", "", "");

  std::string job_id;
  if (r.reached && r.status == 409 && wait) {
    // One backup per app at a time: follow the one already queued or running.
    auto problem = parse_object(r.body);
    const json::value* id = problem ? problem->if_contains("job_id") : nullptr;
    if (!id || !id->is_string()) return report_failure(api, r, err);
    job_id = std::string(id->as_string());
    if (!settings.json)
      out << "a backup of " << name << " is already in progress: following job " << job_id << "\n"
          << std::flush;
  } else {
    if (!success(r)) return report_failure(api, r, err);
    auto o = expect_object(api, r, err);
    if (!o) return client_exit_failed;
    job_id = text(*o, "job_id");
    if (!wait) {
      if (settings.json)
        print_raw(out, r.body);
      else
        out << job_id << "\n";
      return client_exit_ok;
    }
    if (!settings.json)
      out << "job " << job_id << " started for app " << name << "\n" << std::flush;
  }
  std::optional<steady_clock::time_point> deadline;
  if (timeout.count() > 0) deadline = started + timeout;
  return wait_for_job(api, job_id, deadline, timeout, out, err);
}

// --- restore -----------------------------------------------------------------------------------

int restore_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  parsed_args a;
  const std::vector<option_spec> extra{{"--output", true}, {"-o", true}, {"--force", false}};
  if (auto done = parse_command(args, 0, extra, 1, "restore", "BACKUP_ID", a, out, err))
    return *done;
  const std::string* output = a.value("--output");
  if (!output) output = a.value("-o");
  if (!output || output->empty())
    return usage_error(err, "restore", "missing --output FILE (where the backup is written)");
  if (a.value("--output") && a.value("-o"))
    return usage_error(err, "restore", "option --output given more than once (-o is --output)");
  struct stat st {};
  if (::stat(output->c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return value_error(err, "restore", "--output: " + *output + " is a directory");
    if (!a.flag("--force"))
      return value_error(err, "restore",
                         "--output: " + *output + " already exists (--force replaces it)");
  }

  client_settings settings;
  if (int rc = load_settings(a, "restore", settings, err)) return rc;
  api_client api(settings);
  const std::string& id = a.positional[0];
  const std::string partial = *output + ".partial";

  // Backups may hold anything the app keeps: only the owner may read the restored file.
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    err << "error: cannot create " << partial << ": " << std::strerror(errno) << "\n";
    return client_exit_failed;
  }
  auto d = api.download("/api/backups/" + encode(id) + "/content", fd, partial);
  auto discard = [&]() {
    ::close(fd);
    ::unlink(partial.c_str());
  };
  if (!d.ok_status) {
    discard();
    return report_failure(api, d.reply, err);
  }
  if (!d.header_problem.empty()) {
    discard();
    err << "error: cannot restore backup " << id << ": " << d.header_problem << "\n";
    return client_exit_failed;
  }
  if (!d.write_error.empty()) {
    discard();
    err << "error: " << d.write_error << "; nothing written to " << *output << "\n";
    return client_exit_failed;
  }
  if (!d.complete) {
    discard();
    err << "error: the download of backup " << id << " broke off after " << d.received << " of "
        << d.expected_size << " bytes: " << d.stream_error
        << " (the server cuts the stream when the stored file no longer matches its checksum);"
           " nothing written to "
        << *output << "\n";
    return client_exit_failed;
  }
  if (d.received != d.expected_size || d.sha256 != d.expected_sha256) {
    discard();
    err << "error: backup " << id << " does not match what the server announced: X-Size "
        << d.expected_size << ", received " << d.received << " bytes; X-Checksum-SHA256 "
        << d.expected_sha256 << ", received bytes hash to " << d.sha256 << "; nothing written to "
        << *output << "\n";
    return client_exit_failed;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(partial.c_str());
    err << "error: cannot write " << partial << ": " << why << "\n";
    return client_exit_failed;
  }
  if (::rename(partial.c_str(), output->c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(partial.c_str());
    err << "error: cannot rename " << partial << " to " << *output << ": " << why << "\n";
    return client_exit_failed;
  }
  sync_parent_directory(*output);
  if (settings.json) {
    json::object done{{"backup_id", id},
                      {"path", *output},
                      {"size", d.received},
                      {"sha256", d.sha256},
                      {"format", d.format}};
    out << json::serialize(done) << "\n";
  } else {
    out << "restored backup " << id << " to " << *output << ": " << human_bytes(d.received) << " ("
        << d.received << " bytes), sha256 " << d.sha256 << " verified\n";
  }
  return client_exit_ok;
}

}  // namespace

bool is_client_command(std::string_view command) {
  return command == "apps" || command == "backup" || command == "jobs" || command == "restore";
}

int run_client_command(const std::string& command, const std::vector<std::string>& args,
                       std::ostream& out, std::ostream& err) {
  if (command == "apps") return apps_command(args, out, err);
  if (command == "jobs") return jobs_command(args, out, err);
  if (command == "backup") return backup_command(args, out, err);
  if (command == "restore") return restore_command(args, out, err);
  err << "respaldo: unknown client command '" << command << "'\n";
  return client_exit_usage;
}

}  // namespace respaldo
