#include "respaldo/config/config.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

#include "respaldo/core/text.hpp"

namespace respaldo {
namespace po = boost::program_options;

namespace {

std::string env_name_for(const std::string& option) {
  std::string out = "RESPALDO_";
  for (char c : option)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A backup's size bound: the sizes parse_byte_size takes, and TiB (Drive's limit is 5 TiB).
std::optional<std::uint64_t> parse_backup_size(std::string_view text) {
  constexpr std::string_view tib = "TiB";
  if (text.size() <= tib.size() || text.substr(text.size() - tib.size()) != tib)
    return parse_byte_size(text);
  std::uint64_t value = 0;
  const auto digits = text.substr(0, text.size() - tib.size());
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || value > 1024)
    return std::nullopt;
  return value << 40;
}

struct invalid_value {
  std::string message;
};

}  // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  return parse_scaled(text, {{"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1 << 20}, {"GiB", 1 << 30}},
                      std::uint64_t{1} << 50);
}

namespace {

// --allow-download-origin and --app-networks: the flag and what is wrong, if anything.
std::optional<std::pair<std::string, std::string>> check_app_connections(
    serve_config& cfg, const std::string& app_networks) {
  for (auto& origin : cfg.allowed_download_origins) {
    for (auto& c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (origin.empty() || origin.find('/') != std::string::npos ||
        origin.find('@') != std::string::npos)
      return std::pair{
          std::string("allow-download-origin"),
          "expected HOST or HOST:PORT such as objects.example.com:443, got \"" + origin + "\""};
  }
  auto nets = parse_ip_networks(app_networks);
  if (!nets) return std::pair{std::string("app-networks"), nets.error().message};
  cfg.app_networks = std::move(*nets);
  return std::nullopt;
}

// The values of serve's flags as typed, before they are checked and converted.
struct raw_flags {
  std::string listen, chunk_size, retry_base, retry_max, connect_timeout, read_timeout,
      job_deadline, deferred_poll_max, jitter, probe_interval, max_body, request_timeout,
      shutdown_grace, progress_interval, max_backup_size, config_file, app_networks,
      notify_retry_base, notify_retry_max, notify_timeout, hash_threads, events_heartbeat,
      download_link_ttl;
};

// A refused flag: its name (without dashes) and what is wrong with its value.
using flag_problem = std::optional<std::pair<std::string, std::string>>;

flag_problem flag_error(std::string flag, std::string what) {
  return std::pair{std::move(flag), std::move(what)};
}

// The options table: where each flag's value goes (straight into `cfg`, or into `raw` when it
// needs checking first). A data table, kept whole so that --help lists it in one place.
po::options_description describe_serve_options(serve_config& cfg, raw_flags& raw) {
  po::options_description general("respaldo serve options");
  // clang-format off
  general.add_options()
    ("help,h", "show this help")
    ("config", po::value(&raw.config_file)->value_name("FILE"), "read options from FILE (key = value lines)")
    ("listen", po::value(&raw.listen)->default_value("127.0.0.1:8080")->value_name("HOST:PORT"), "address of the REST API")
    ("data-dir", po::value(&cfg.data_dir)->default_value("./var")->value_name("DIR"), "SQLite database, keys and local backups")
    ("admin-token-file", po::value(&cfg.admin_token_file)->value_name("FILE"), "file holding the admin bearer token (else RESPALDO_ADMIN_TOKEN, else DATA_DIR/admin-token is generated)")
    ("secret-key-file", po::value(&cfg.secret_key_file)->value_name("FILE"), "AES-256 key sealing app tokens (default DATA_DIR/secret.key, generated)")
    ("metrics-token-file", po::value(&cfg.metrics_token_file)->value_name("FILE"), "file holding the bearer token /metrics then requires (default: /metrics is open)")
    ("log-format", po::value(&cfg.log_format)->default_value("text")->value_name("text|json"), "log line format")
    ("log-level", po::value(&cfg.log_level)->default_value("info")->value_name("LEVEL"), "debug, info, warn or error")
    ("storage", po::value(&cfg.storage)->default_value("local")->value_name("local|drive"), "where backups are stored")
    ("chunk-size", po::value(&raw.chunk_size)->default_value("8MiB")->value_name("SIZE"), "pipeline chunk, a multiple of 256KiB")
    ("hash-threads", po::value(&raw.hash_threads)->default_value("auto")->value_name("N|auto"), "threads hashing backup chunks off the io thread (auto: one per core; 0: on the io thread)")
    ("max-concurrent-jobs", po::value(&cfg.max_concurrent_jobs)->default_value(4)->value_name("N"), "jobs running at once")
    ("max-attempts", po::value(&cfg.max_attempts)->default_value(3)->value_name("N"), "tries per job for transient failures")
    ("retry-base-delay", po::value(&raw.retry_base)->default_value("5s")->value_name("DURATION"), "first retry delay (doubles each try, with raw.jitter)")
    ("retry-max-delay", po::value(&raw.retry_max)->default_value("5m")->value_name("DURATION"), "cap of the retry delay")
    ("connect-timeout", po::value(&raw.connect_timeout)->default_value("10s")->value_name("DURATION"), "connecting to an app or to storage")
    ("read-timeout", po::value(&raw.read_timeout)->default_value("60s")->value_name("DURATION"), "longest silence while reading from an app")
    ("job-deadline", po::value(&raw.job_deadline)->default_value("6h")->value_name("DURATION"), "longest a single job attempt may run")
    ("deferred-poll-max", po::value(&raw.deferred_poll_max)->default_value("60s")->value_name("DURATION"), "longest wait between polls of a deferred export")
    ("progress-interval", po::value(&raw.progress_interval)->default_value("500ms")->value_name("DURATION"), "longest time between two saves of a running backup's progress")
    ("max-backup-size", po::value(&raw.max_backup_size)->default_value("5TiB")->value_name("SIZE"), "largest backup accepted (an app's X-Size above it fails the job)")
    ("timezone", po::value(&cfg.timezone)->default_value("UTC")->value_name("ZONE"), "IANA time zone of schedules and retention buckets")
    ("schedule-jitter", po::value(&raw.jitter)->default_value("0s")->value_name("DURATION"), "spread scheduled starts by up to this much, stable per app")
    ("probe-interval", po::value(&raw.probe_interval)->default_value("5m")->value_name("DURATION"), "how often each app's capabilities are probed (0 disables)")
    ("drive-credentials", po::value(&cfg.drive_credentials)->value_name("FILE"), "Google service_account or authorized_user JSON")
    ("drive-md5", po::bool_switch(&cfg.drive_md5), "compute each Drive upload's MD5 in flight, so that a reply without sha256Checksum is still confirmed before cataloging (about 1.3 s of CPU per GB; without it such a backup is verified at once by reading it back)")
    ("drive-impersonate", po::value(&cfg.drive_impersonate)->value_name("EMAIL"), "user a service account acts for (domain-wide delegation)")
    ("drive-api-url", po::value(&cfg.drive_api_url)->default_value("https://www.googleapis.com")->value_name("URL"), "base of /drive/v3 and /upload/drive/v3")
    ("drive-token-url", po::value(&cfg.drive_token_url)->value_name("URL"), "OAuth token endpoint (default: the credentials' token_uri)")
    ("ca-file", po::value(&cfg.ca_file)->value_name("FILE"), "extra trusted CA certificates (PEM)")
    ("allow-download-origin", po::value(&cfg.allowed_download_origins)->composing()->value_name("HOST[:PORT]"), "an origin besides the app's own an export download may come from (repeatable; e.g. presigned object-store URLs)")
    ("app-networks", po::value(&raw.app_networks)->value_name("CIDR,..."), "app URLs and every address connected to for an app must lie in these blocks")
    ("public-url", po::value(&cfg.public_url)->value_name("URL"), "base URL of respaldo's API in notification links (default http://LISTEN)")
    ("notify-retry-base", po::value(&raw.notify_retry_base)->default_value("30s")->value_name("DURATION"), "first retry delay of a notification (doubles each try, with jitter)")
    ("notify-retry-max", po::value(&raw.notify_retry_max)->default_value("1h")->value_name("DURATION"), "cap of a notification's retry delay (retries stop after 24h)")
    ("notify-timeout", po::value(&raw.notify_timeout)->default_value("10s")->value_name("DURATION"), "longest one notification attempt may take")
    ("notify-max-pending", po::value(&cfg.notify_max_pending)->default_value(10000)->value_name("N"), "pending notifications kept at most (the oldest are dropped)")
    ("max-body-bytes", po::value(&raw.max_body)->default_value("1MiB")->value_name("SIZE"), "largest API request body")
    ("max-connections-per-client", po::value(&cfg.max_connections_per_client)->default_value(64)->value_name("N"), "open API connections one client address may hold")
    ("request-timeout", po::value(&raw.request_timeout)->default_value("30s")->value_name("DURATION"), "reading a request and producing its response")
    ("shutdown-grace", po::value(&raw.shutdown_grace)->default_value("10s")->value_name("DURATION"), "time in-flight requests get on SIGTERM")
    ("events-heartbeat", po::value(&raw.events_heartbeat)->default_value("15s")->value_name("DURATION"), "interval of the heartbeat comment on idle GET /api/events streams")
    ("download-link-ttl", po::value(&raw.download_link_ttl)->default_value("5m")->value_name("DURATION"), "lifetime of the signed links of POST /api/backups/{id}/download-url, 1s to 1d")
    ("max-event-streams", po::value(&cfg.max_event_streams)->default_value(32)->value_name("N"), "GET /api/events streams open at once, 1 to 1024 (503 above)");
  // clang-format on
  return general;
}

// --listen and the flags with a fixed set of values or a range.
flag_problem check_choices(serve_config& cfg, const raw_flags& raw) {
  auto colon = raw.listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return flag_error("listen",
                      "expected HOST:PORT such as 127.0.0.1:8080, got \"" + raw.listen + "\"");
  cfg.listen_host = raw.listen.substr(0, colon);
  if (cfg.listen_host.size() > 2 && cfg.listen_host.front() == '[' && cfg.listen_host.back() == ']')
    cfg.listen_host = cfg.listen_host.substr(1, cfg.listen_host.size() - 2);
  unsigned port = 0;
  auto port_text = std::string_view(raw.listen).substr(colon + 1);
  auto [pend, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (pec != std::errc{} || pend != port_text.data() + port_text.size() || port > 65535)
    return flag_error("listen", "port must be 0-65535, got \"" + std::string(port_text) + "\"");
  cfg.listen_port = static_cast<std::uint16_t>(port);

  if (cfg.log_format != "text" && cfg.log_format != "json")
    return flag_error("log-format", "expected text or json, got \"" + cfg.log_format + "\"");
  if (cfg.log_level != "debug" && cfg.log_level != "info" && cfg.log_level != "warn" &&
      cfg.log_level != "error")
    return flag_error("log-level",
                      "expected debug, info, warn or error, got \"" + cfg.log_level + "\"");
  if (cfg.storage != "local" && cfg.storage != "drive")
    return flag_error("storage", "expected local or drive, got \"" + cfg.storage + "\"");
  if (cfg.storage == "drive" && cfg.drive_credentials.empty())
    return flag_error("drive-credentials", "required with --storage drive");
  if (cfg.max_concurrent_jobs < 1 || cfg.max_concurrent_jobs > 256)
    return flag_error("max-concurrent-jobs", "expected 1 to 256");
  if (cfg.max_attempts < 1 || cfg.max_attempts > 100)
    return flag_error("max-attempts", "expected 1 to 100");
  if (cfg.max_connections_per_client < 1 || cfg.max_connections_per_client > 1024)
    return flag_error("max-connections-per-client",
                      "expected 1 to 1024 (the server's connection cap)");
  if (cfg.data_dir.empty()) return flag_error("data-dir", "must not be empty");
  if (cfg.max_event_streams < 1 || cfg.max_event_streams > 1024)
    return flag_error("max-event-streams", "expected 1 to 1024");
  if (cfg.notify_max_pending < 1 || cfg.notify_max_pending > 1'000'000)
    return flag_error("notify-max-pending", "expected 1 to 1000000");
  if (!cfg.public_url.empty()) {
    if (cfg.public_url.rfind("http://", 0) != 0 && cfg.public_url.rfind("https://", 0) != 0)
      return flag_error("public-url",
                        "expected an http or https URL such as "
                        "https://respaldo.example.com, got \"" +
                            cfg.public_url + "\"");
    while (cfg.public_url.back() == '/') cfg.public_url.pop_back();
  }

  return check_app_connections(cfg, raw.app_networks);
}

// --hash-threads: "auto" is one per core.
std::optional<unsigned> read_hash_threads(const std::string& text) {
  if (text == "auto") return std::max(1u, std::thread::hardware_concurrency());
  unsigned n = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc{} || ptr != end || n > 64) return std::nullopt;
  return n;
}

// Sizes and durations, converted.
flag_problem read_sizes_and_durations(serve_config& cfg, const raw_flags& raw) {
  auto size = parse_byte_size(raw.chunk_size);
  if (!size || *size == 0 || *size % (256 * 1024) != 0 || *size > 256ull * 1024 * 1024)
    return flag_error(
        "chunk-size",
        "expected a multiple of 256KiB up to 256MiB, such as 8MiB, got \"" + raw.chunk_size + "\"");
  cfg.chunk_size = static_cast<std::size_t>(*size);
  if (auto threads = read_hash_threads(raw.hash_threads)) {
    cfg.hash_threads = *threads;
  } else {
    return flag_error("hash-threads", "expected auto or 0 to 64, got \"" +
                                          escape_unprintable(raw.hash_threads) + "\"");
  }
  auto body = parse_byte_size(raw.max_body);
  if (!body || *body < 1024 || *body > 64ull * 1024 * 1024)
    return flag_error("max-body-bytes", "expected 1KiB to 64MiB, got \"" + raw.max_body + "\"");
  cfg.max_body_bytes = static_cast<std::size_t>(*body);
  auto largest = parse_backup_size(raw.max_backup_size);
  if (!largest || *largest == 0)
    return flag_error("max-backup-size", "expected a size above 0 such as 5TiB or 10GiB, got \"" +
                                             raw.max_backup_size + "\"");
  cfg.max_backup_size = *largest;

  struct duration_flag {
    const char* name;
    const std::string& text;
    std::chrono::milliseconds& out;
    bool zero_ok;
  };
  for (auto& d :
       {duration_flag{"retry-base-delay", raw.retry_base, cfg.retry_base_delay, true},
        duration_flag{"retry-max-delay", raw.retry_max, cfg.retry_max_delay, true},
        duration_flag{"connect-timeout", raw.connect_timeout, cfg.connect_timeout, false},
        duration_flag{"read-timeout", raw.read_timeout, cfg.read_timeout, false},
        duration_flag{"job-deadline", raw.job_deadline, cfg.job_deadline, false},
        duration_flag{"deferred-poll-max", raw.deferred_poll_max, cfg.deferred_poll_max, false},
        duration_flag{"progress-interval", raw.progress_interval, cfg.progress_interval, false},
        duration_flag{"schedule-jitter", raw.jitter, cfg.schedule_jitter, true},
        duration_flag{"probe-interval", raw.probe_interval, cfg.probe_interval, true},
        duration_flag{"request-timeout", raw.request_timeout, cfg.request_timeout, false},
        duration_flag{"shutdown-grace", raw.shutdown_grace, cfg.shutdown_grace, true},
        duration_flag{"notify-retry-base", raw.notify_retry_base, cfg.notify_retry_base, false},
        duration_flag{"notify-retry-max", raw.notify_retry_max, cfg.notify_retry_max, false},
        duration_flag{"notify-timeout", raw.notify_timeout, cfg.notify_timeout, false},
        duration_flag{"events-heartbeat", raw.events_heartbeat, cfg.events_heartbeat, false},
        duration_flag{"download-link-ttl", raw.download_link_ttl, cfg.download_link_ttl, false}}) {
    auto v = parse_duration(d.text);
    if (!v || (!d.zero_ok && v->count() == 0))
      return flag_error(
          d.name, "expected a duration such as 500ms, 30s, 5m, 2h or 1d, got \"" + d.text + "\"");
    d.out = *v;
  }
  if (cfg.download_link_ttl < std::chrono::seconds(1) ||
      cfg.download_link_ttl > std::chrono::hours(24) || cfg.download_link_ttl.count() % 1000 != 0)
    return flag_error("download-link-ttl", "expected whole seconds from 1s to 1d, got \"" +
                                               raw.download_link_ttl + "\"");
  return std::nullopt;
}

}  // namespace

parse_outcome parse_serve_config(const std::vector<std::string>& args) {
  serve_config cfg;
  raw_flags raw;
  const po::options_description general = describe_serve_options(cfg, raw);

  auto usage = [&] {
    std::ostringstream os;
    os << "usage: respaldo serve [options]\n\nEvery option can also be set as an environment "
          "variable RESPALDO_<OPTION> (e.g. RESPALDO_DATA_DIR).\n\n"
       << general;
    return os.str();
  };

  // Positional arguments are collected only to be refused by name (serve takes none).
  std::vector<std::string> positional;
  po::options_description command_line;
  command_line.add(general).add_options()("positional", po::value(&positional)->multitoken(), "");
  po::positional_options_description positional_spec;
  positional_spec.add("positional", -1);

  po::variables_map vm;
  try {
    std::vector<const char*> argv{"respaldo-serve"};
    for (const auto& a : args) argv.push_back(a.c_str());
    po::store(po::command_line_parser(static_cast<int>(argv.size()), argv.data())
                  .options(command_line)
                  .positional(positional_spec)
                  .run(),
              vm);
    if (vm.count("help")) return {std::nullopt, usage(), 0};
    if (vm.count("positional")) {
      const auto& extra = vm["positional"].as<std::vector<std::string>>();
      return {std::nullopt,
              "error: unexpected argument \"" + extra.front() +
                  "\"; respaldo serve takes only options\n(see respaldo serve --help)\n",
              2};
    }
    // Environment next, then the config file: po::store keeps the first value it sees.
    std::vector<std::string> names;
    for (const auto& opt : general.options()) names.push_back(opt->long_name());
    po::store(po::parse_environment(general,
                                    [&](const std::string& var) -> std::string {
                                      for (const auto& n : names)
                                        if (n != "help" && n != "config" && env_name_for(n) == var)
                                          return n;
                                      return "";
                                    }),
              vm);
    if (vm.count("config")) {
      const auto file = vm["config"].as<std::string>();
      std::ifstream in(file);
      if (!in) return {std::nullopt, "error: --config: cannot read " + file + "\n", 2};
      po::store(po::parse_config_file(in, general), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return {std::nullopt, std::string("error: ") + e.what() + "\n(see respaldo serve --help)\n", 2};
  }

  flag_problem bad = check_choices(cfg, raw);
  if (!bad) bad = read_sizes_and_durations(cfg, raw);
  if (bad) return {std::nullopt, "error: --" + bad->first + ": " + bad->second + "\n", 2};
  return {std::move(cfg), "", 0};
}

}  // namespace respaldo
