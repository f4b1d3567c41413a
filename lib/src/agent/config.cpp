#include "respaldo/agent/config.hpp"

#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "respaldo/config/bootstrap.hpp"
#include "respaldo/core/time_format.hpp"

namespace respaldo {
namespace po = boost::program_options;

std::string_view to_string(agent_source s) noexcept {
  switch (s) {
    case agent_source::command:
      return "command";
    case agent_source::tar:
      return "tar";
    case agent_source::postgres:
      return "postgres";
    case agent_source::mariadb:
      return "mariadb";
  }
  return "command";
}

std::optional<agent_source> parse_agent_source(std::string_view s) noexcept {
  for (auto k :
       {agent_source::command, agent_source::tar, agent_source::postgres, agent_source::mariadb})
    if (to_string(k) == s) return k;
  return std::nullopt;
}

namespace {

std::string env_name_for(const std::string& option) {
  std::string out = "RESPALDO_AGENT_";
  for (char c : option)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

struct raw_flags {
  std::string config_file, listen, source, mode, timeout, spool_ttl, request_timeout, token_file;
  std::vector<std::string> positional;
};

using flag_problem = std::optional<std::pair<std::string, std::string>>;

flag_problem flag_error(std::string flag, std::string what) {
  return std::pair{std::move(flag), std::move(what)};
}

po::options_description describe_agent_options(agent_config& cfg, raw_flags& raw) {
  po::options_description general("respaldo agent options");
  // clang-format off
  general.add_options()
    ("help,h", "show this help")
    ("config", po::value(&raw.config_file)->value_name("FILE"), "read options from FILE (key = value lines)")
    ("listen", po::value(&raw.listen)->default_value("0.0.0.0:8000")->value_name("HOST:PORT"), "address of the export endpoints (publish it only on backups_net)")
    ("token-file", po::value(&raw.token_file)->value_name("FILE"), "file holding the bearer token respaldo sends (else RESPALDO_AGENT_TOKEN); required")
    ("source", po::value(&raw.source)->default_value("command")->value_name("KIND"), "command, tar, postgres or mariadb")
    ("command", po::value(&cfg.command)->value_name("CMD"), "--source command: shell command writing the backup to stdout")
    ("path", po::value(&cfg.paths)->composing()->value_name("PATH"), "--source tar: a path to archive (repeatable)")
    ("exclude", po::value(&cfg.excludes)->composing()->value_name("PATTERN"), "--source tar: a tar --exclude pattern (repeatable)")
    ("pg-url", po::value(&cfg.pg_url)->value_name("URL"), "--source postgres: connection URL (default: the PG* environment)")
    ("mariadb-defaults-file", po::value(&cfg.mariadb_defaults_file)->value_name("FILE"), "--source mariadb: option file with the [client] host, port, user and password")
    ("database", po::value(&cfg.database)->value_name("NAME"), "--source mariadb: the database to dump (default: all)")
    ("format", po::value(&cfg.format)->value_name("FORMAT"), "X-Format of the backup (required with --source command)")
    ("spool-dir", po::value(&cfg.spool_dir)->default_value("/var/spool/respaldo-agent")->value_name("DIR"), "where the dump is written while it is hashed")
    ("timeout", po::value(&raw.timeout)->default_value("6h")->value_name("DURATION"), "longest one dump may run (the command is killed)")
    ("mode", po::value(&raw.mode)->default_value("deferred")->value_name("deferred|stream"), "answer POST /backup/export with 202 at once, or with the backup once it is spooled")
    ("spool-ttl", po::value(&raw.spool_ttl)->default_value("6h")->value_name("DURATION"), "a finished dump nobody downloaded is removed after this long")
    ("request-timeout", po::value(&raw.request_timeout)->default_value("30s")->value_name("DURATION"), "reading a request and answering a status poll")
    ("log-format", po::value(&cfg.log_format)->default_value("text")->value_name("text|json"), "log line format")
    ("log-level", po::value(&cfg.log_level)->default_value("info")->value_name("LEVEL"), "debug, info, warn or error");
  // clang-format on
  return general;
}

flag_problem read_listen(agent_config& cfg, const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return flag_error("listen", "expected HOST:PORT such as 0.0.0.0:8000, got \"" + listen + "\"");
  cfg.listen_host = listen.substr(0, colon);
  if (cfg.listen_host.size() > 2 && cfg.listen_host.front() == '[' && cfg.listen_host.back() == ']')
    cfg.listen_host = cfg.listen_host.substr(1, cfg.listen_host.size() - 2);
  unsigned port = 0;
  auto text = std::string_view(listen).substr(colon + 1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || end != text.data() + text.size() || port > 65535)
    return flag_error("listen", "port must be 0-65535, got \"" + std::string(text) + "\"");
  cfg.listen_port = static_cast<std::uint16_t>(port);
  return std::nullopt;
}

bool valid_format(std::string_view f) {
  if (f.empty() || f.size() > 32) return false;
  for (char c : f)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != '+')
      return false;
  return true;
}

// What the source needs: its arguments (positional ones go to --path or --command) and format.
flag_problem check_source(agent_config& cfg, raw_flags& raw) {
  auto kind = parse_agent_source(raw.source);
  if (!kind)
    return flag_error("source",
                      "expected command, tar, postgres or mariadb, got \"" + raw.source + "\"");
  cfg.source = *kind;
  if (cfg.source == agent_source::tar) {
    for (auto& p : raw.positional) cfg.paths.push_back(p);
    if (cfg.paths.empty()) return flag_error("path", "--source tar needs at least one PATH");
    for (auto& p : cfg.paths) p = std::filesystem::absolute(p).lexically_normal().string();
  } else if (cfg.source == agent_source::command) {
    if (raw.positional.size() == 1 && cfg.command.empty())
      cfg.command = raw.positional.front();
    else if (!raw.positional.empty())
      return flag_error("command", "give the command once, as one quoted argument");
    if (cfg.command.empty()) return flag_error("command", "--source command needs a CMD");
    if (cfg.format.empty())
      return flag_error("format", "required with --source command (such as sql or tar.gz)");
  } else if (!raw.positional.empty()) {
    return flag_error("source", "--source " + raw.source + " takes no arguments, got \"" +
                                    raw.positional.front() + "\"");
  }
  if (cfg.format.empty())
    cfg.format = cfg.source == agent_source::tar        ? "tar"
                 : cfg.source == agent_source::postgres ? "pgdump"
                                                        : "sql.gz";
  if (!valid_format(cfg.format))
    return flag_error("format", "expected 1 to 32 letters, digits, '.', '-', '_' or '+', got \"" +
                                    cfg.format + "\"");
  return std::nullopt;
}

flag_problem check_values(agent_config& cfg, raw_flags& raw) {
  if (auto bad = read_listen(cfg, raw.listen)) return bad;
  if (auto bad = check_source(cfg, raw)) return bad;
  if (raw.mode == "deferred")
    cfg.mode = agent_mode::deferred;
  else if (raw.mode == "stream")
    cfg.mode = agent_mode::stream;
  else
    return flag_error("mode", "expected deferred or stream, got \"" + raw.mode + "\"");
  if (cfg.log_format != "text" && cfg.log_format != "json")
    return flag_error("log-format", "expected text or json, got \"" + cfg.log_format + "\"");
  if (cfg.log_level != "debug" && cfg.log_level != "info" && cfg.log_level != "warn" &&
      cfg.log_level != "error")
    return flag_error("log-level",
                      "expected debug, info, warn or error, got \"" + cfg.log_level + "\"");
  if (cfg.spool_dir.empty()) return flag_error("spool-dir", "must not be empty");
  struct duration_flag {
    const char* name;
    const std::string& text;
    std::chrono::milliseconds& out;
  };
  for (auto& d : {duration_flag{"timeout", raw.timeout, cfg.timeout},
                  duration_flag{"spool-ttl", raw.spool_ttl, cfg.spool_ttl},
                  duration_flag{"request-timeout", raw.request_timeout, cfg.request_timeout}}) {
    auto v = parse_duration(d.text);
    if (!v || v->count() == 0)
      return flag_error(
          d.name, "expected a duration above 0 such as 30s, 5m or 6h, got \"" + d.text + "\"");
    d.out = *v;
  }
  return std::nullopt;
}

// --token-file, else RESPALDO_AGENT_TOKEN; the agent refuses to start without one.
flag_problem read_token(agent_config& cfg, const raw_flags& raw,
                        const std::function<const char*(const char*)>& env) {
  if (!raw.token_file.empty()) {
    auto t = load_token_file(raw.token_file, "agent");
    if (!t) return flag_error("token-file", t.error().message);
    cfg.token = std::move(*t);
    cfg.token_origin = "file " + raw.token_file;
    return std::nullopt;
  }
  const char* value = env("RESPALDO_AGENT_TOKEN");
  std::string token = value ? value : "";
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  if (token.empty())
    return flag_error("token-file",
                      "the agent needs a token: give --token-file FILE or RESPALDO_AGENT_TOKEN "
                      "(the token registered with respaldo for this app)");
  if (token.size() < 16 || token.size() > 4096)
    return flag_error(
        "token-file",
        "RESPALDO_AGENT_TOKEN must be 16 to 4096 characters; use a long random value");
  cfg.token = std::move(token);
  cfg.token_origin = "environment RESPALDO_AGENT_TOKEN";
  return std::nullopt;
}

}  // namespace

agent_parse_outcome parse_agent_config(const std::vector<std::string>& args,
                                       const std::function<const char*(const char*)>& env) {
  agent_config cfg;
  raw_flags raw;
  const po::options_description general = describe_agent_options(cfg, raw);
  po::options_description command_line;
  command_line.add(general).add_options()("positional", po::value(&raw.positional)->multitoken(),
                                          "");
  po::positional_options_description positional_spec;
  positional_spec.add("positional", -1);
  po::variables_map vm;
  try {
    std::vector<const char*> argv{"respaldo-agent"};
    for (const auto& a : args) argv.push_back(a.c_str());
    po::store(po::command_line_parser(static_cast<int>(argv.size()), argv.data())
                  .options(command_line)
                  .positional(positional_spec)
                  .run(),
              vm);
    if (vm.count("help")) {
      std::ostringstream os;
      os << "usage: respaldo agent [options] [PATH... | 'CMD']\n\nEvery option can also be set "
            "as an environment variable RESPALDO_AGENT_<OPTION> (e.g. RESPALDO_AGENT_SOURCE);\n"
            "the token comes from --token-file or RESPALDO_AGENT_TOKEN.\n\n"
         << general;
      return {std::nullopt, os.str(), 0};
    }
    std::vector<std::string> names;
    for (const auto& opt : general.options()) names.push_back(opt->long_name());
    // Environment next, then the config file: po::store keeps the first value it sees.
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
    return {std::nullopt, std::string("error: ") + e.what() + "\n(see respaldo agent --help)\n", 2};
  }
  flag_problem bad = check_values(cfg, raw);
  if (!bad) bad = read_token(cfg, raw, env);
  if (bad) return {std::nullopt, "error: --" + bad->first + ": " + bad->second + "\n", 2};
  return {std::move(cfg), "", 0};
}

}  // namespace respaldo
