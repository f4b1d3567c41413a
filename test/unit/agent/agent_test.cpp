// The agent's sans-io parts (options, source plans, Range, stderr tail, spool figures) and its
// child process and export service against real commands in a temporary spool dir.
#include <stdlib.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "respaldo/agent/child.hpp"
#include "respaldo/agent/config.hpp"
#include "respaldo/agent/exports.hpp"
#include "respaldo/agent/gzip.hpp"
#include "respaldo/agent/source.hpp"
#include "respaldo/agent/spool.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "support/async_test.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace respaldo;
namespace asio = boost::asio;

const char* const token = "agent-token-0123456789";

agent_parse_outcome parse(std::vector<std::string> args, const char* env_token = token) {
  return parse_agent_config(args, [env_token](const char* name) -> const char* {
    return std::string_view(name) == "RESPALDO_AGENT_TOKEN" ? env_token : nullptr;
  });
}

}  // namespace

TEST_CASE("agent options: defaults, sources and their arguments", "[agent]") {
  auto p = parse({"--source", "tar", "/srv/data", "--path", "/etc/app", "--exclude", "*.tmp"});
  REQUIRE(p.config);
  CHECK(p.config->listen_host == "0.0.0.0");
  CHECK(p.config->listen_port == 8000);
  CHECK(p.config->mode == agent_mode::deferred);
  CHECK(p.config->format == "tar");
  CHECK(p.config->paths == std::vector<std::string>{"/etc/app", "/srv/data"});
  CHECK(p.config->token == token);
  CHECK(p.config->token_origin == "environment RESPALDO_AGENT_TOKEN");

  auto pg = parse({"--source", "postgres", "--mode", "stream", "--timeout", "2m"});
  REQUIRE(pg.config);
  CHECK(pg.config->format == "pgdump");
  CHECK(pg.config->mode == agent_mode::stream);
  CHECK(pg.config->timeout == std::chrono::minutes(2));

  auto cmd = parse({"--format", "sql", "pg_dumpall"});
  REQUIRE(cmd.config);
  CHECK(cmd.config->command == "pg_dumpall");
}

TEST_CASE("agent options: RESPALDO_AGENT_* variables, then the config file", "[agent]") {
  test::temp_dir dir;
  std::ofstream(dir.file("agent.conf")) << "source = command\nformat = sql\nmode = stream\n"
                                           "command = pg_dumpall\nspool-ttl = 2h\n";
  ::setenv("RESPALDO_AGENT_FORMAT", "sql.zst", 1);
  ::setenv("RESPALDO_AGENT_TIMEOUT", "90s", 1);
  auto p = parse({"--config", dir.file("agent.conf"), "--mode", "deferred"});
  ::unsetenv("RESPALDO_AGENT_FORMAT");
  ::unsetenv("RESPALDO_AGENT_TIMEOUT");
  REQUIRE(p.config);
  CHECK(p.config->mode == agent_mode::deferred);         // the flag wins
  CHECK(p.config->format == "sql.zst");                  // then the environment
  CHECK(p.config->timeout == std::chrono::seconds(90));  // (another variable)
  CHECK(p.config->command == "pg_dumpall");              // then the file
  CHECK(p.config->spool_ttl == std::chrono::hours(2));
  auto missing = parse({"--config", dir.file("nope.conf")});
  CHECK(missing.exit_code == 2);
  CHECK(missing.message.find("--config") != std::string::npos);
}

TEST_CASE("agent options: refusals name the flag", "[agent]") {
  struct refusal {
    std::vector<std::string> args;
    const char* flag;
  };
  for (const auto& r : std::vector<refusal>{
           {{"--format", "sql"}, "--command"},
           {{"--command", "true"}, "--format"},
           {{"--source", "tar"}, "--path"},
           {{"--source", "ftp"}, "--source"},
           {{"--format", "x y", "--command", "true"}, "--format"},
           {{"--mode", "later", "--format", "x", "--command", "true"}, "--mode"},
           {{"--listen", "8000", "--format", "x", "--command", "true"}, "--listen"},
           {{"--spool-ttl", "0s", "--format", "x", "--command", "true"}, "--spool-ttl"},
           {{"--source", "postgres", "extra"}, "--source"},
       }) {
    INFO(r.flag);
    auto p = parse(r.args);
    CHECK_FALSE(p.config);
    CHECK(p.exit_code == 2);
    CHECK(p.message.find(r.flag) != std::string::npos);
  }
}

TEST_CASE("agent options: no token, a short one, or one from a file", "[agent]") {
  auto none = parse({"--format", "x", "--command", "true"}, nullptr);
  CHECK_FALSE(none.config);
  CHECK(none.message.find("--token-file") != std::string::npos);
  auto shorter = parse({"--format", "x", "--command", "true"}, "short");
  CHECK_FALSE(shorter.config);
  CHECK(shorter.message.find("short") == std::string::npos);  // never echoed

  test::temp_dir dir;
  std::ofstream(dir.file("token")) << "file-token-0123456789abcdef\n";
  auto from_file =
      parse({"--format", "x", "--command", "true", "--token-file", dir.file("token")}, nullptr);
  REQUIRE(from_file.config);
  CHECK(from_file.config->token == "file-token-0123456789abcdef");
}

TEST_CASE("source plans: tar archives relative to /, keeping sparse files", "[agent]") {
  agent_config cfg;
  cfg.source = agent_source::tar;
  cfg.paths = {"/srv/data", "/"};
  cfg.excludes = {"*.tmp"};
  auto plan = plan_source(cfg);
  CHECK(plan.spec.argv == std::vector<std::string>{"tar", "--create", "--file=-", "--sparse",
                                                   "--numeric-owner", "--directory=/",
                                                   "--exclude=*.tmp", "--", "srv/data", "."});
  CHECK(plan.exit_one_is_warning);
  CHECK(plan.types == std::vector<std::string>{"files"});
  cfg.source = agent_source::postgres;
  cfg.pg_url = "postgresql://u@db/app";
  plan = plan_source(cfg);
  CHECK(plan.spec.argv.front() == "pg_dump");
  CHECK(plan.spec.argv.back() == "--dbname=postgresql://u@db/app");
  CHECK_FALSE(plan.exit_one_is_warning);
}

TEST_CASE("source plans: mariadb keeps the password in its option file and compresses", "[agent]") {
  agent_config cfg;
  cfg.source = agent_source::mariadb;
  cfg.mariadb_defaults_file = "/run/secrets/my.cnf";
  cfg.database = "app";
  auto plan = plan_source(cfg);
  CHECK(plan.spec.argv ==
        std::vector<std::string>{"mariadb-dump", "--defaults-extra-file=/run/secrets/my.cnf",
                                 "--single-transaction", "--routines", "--events", "app"});
  CHECK(plan.gzip);
  cfg.database.clear();
  CHECK(plan_source(cfg).spec.argv.back() == "--all-databases");
}

TEST_CASE("gzip: pieces compress into one stream that decompresses to the input", "[agent]") {
  gzip_writer z;
  std::string packed;
  std::string input;
  for (int i = 0; i < 5000; ++i) input += "fila " + std::to_string(i) + " con ñ\n";
  const std::size_t half = input.size() / 2;
  REQUIRE(z.write(input.data(), half, false, packed));
  REQUIRE(z.write(input.data() + half, input.size() - half, false, packed));
  REQUIRE(z.write(nullptr, 0, true, packed));
  REQUIRE(packed.size() > 18);
  CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
  CHECK(packed.size() < input.size() / 4);
  std::string back;
  REQUIRE(gunzip(packed, back));
  CHECK(back == input);
  std::string broken;
  CHECK_FALSE(gunzip(packed.substr(0, packed.size() - 4), broken));
}

TEST_CASE("Range headers of a download", "[agent]") {
  auto r = parse_range(std::nullopt, 10);
  REQUIRE(r);
  CHECK_FALSE(r->has_value());
  auto from = parse_range("bytes=4-", 10);
  REQUIRE(from);
  CHECK((*from)->first == 4);
  CHECK((*from)->last == 9);
  auto span = parse_range("bytes=2-100", 10);
  REQUIRE(span);
  CHECK((*span)->last == 9);
  auto suffix = parse_range("bytes=-3", 10);
  REQUIRE(suffix);
  CHECK((*suffix)->first == 7);
  CHECK(parse_range("bytes=10-", 10).error().code == errc::range_not_satisfiable);
  CHECK(parse_range("bytes=0-1,4-5", 10).error().code == errc::invalid_argument);
  CHECK(parse_range("items=0-1", 10).error().code == errc::invalid_argument);
  CHECK(parse_range("bytes=5-2", 10).error().code == errc::invalid_argument);
}

TEST_CASE("stderr tail keeps the last bytes", "[agent]") {
  tail_buffer t(5);
  t.append("abc");
  t.append("defg");
  CHECK(t.text() == "cdefg");
  t.append("0123456789");
  CHECK(t.text() == "56789");
}

TEST_CASE("spool: last run figures, the free-space check and leftovers", "[agent]") {
  test::temp_dir dir;
  CHECK_FALSE(load_last_run(dir.path.string()));
  CHECK(spool_space_needed(std::nullopt) == 0);
  REQUIRE(save_last_run(dir.path.string(), last_run{12, 1000}));
  auto last = load_last_run(dir.path.string());
  REQUIRE(last);
  CHECK(last->seconds == 12);
  CHECK(spool_space_needed(last) == 1500);
  CHECK(check_spool_space(dir.path.string(), 1500));
  auto full = check_spool_space(dir.path.string(), std::uint64_t{1} << 62);
  REQUIRE_FALSE(full);
  CHECK(full.error().code == errc::spool_full);
  CHECK(full.error().message.find("bytes free") != std::string::npos);
  std::ofstream(spool_file_path(dir.path.string(), "abc")) << "partial";
  auto removed = prepare_spool_dir(dir.path.string());
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(std::filesystem::exists(dir.file("last-run.json")));
}

TEST_CASE("child process: output, stderr tail and exit status", "[agent]") {
  asio::io_context io;
  auto spawned = child_process::spawn(
      io.get_executor(), child_spec{{"/bin/sh", "-c", "printf hello; echo oops >&2; exit 4"}, {}});
  REQUIRE(spawned);
  auto child = std::move(*spawned);
  auto body = [&]() -> asio::awaitable<std::string> {
    auto drain = [&]() -> asio::awaitable<void> { co_await child->drain_stderr(); };
    asio::co_spawn(io, drain, asio::detached);
    std::string out;
    char buf[64];
    while (true) {
      auto n = co_await child->read_some(asio::buffer(buf));
      REQUIRE(n);
      if (*n == 0) break;
      out.append(buf, *n);
    }
    auto exit = co_await child->wait();
    CHECK(exit.describe() == "exit status 4");
    co_return out;
  };
  CHECK(test::run_with_deadline(io, body()) == "hello");
  io.run_for(std::chrono::milliseconds(50));
  CHECK(child->stderr_tail() == "oops\n");
  auto missing = child_process::spawn(io.get_executor(), child_spec{{"no-such-program-x"}, {}});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("no-such-program-x") != std::string::npos);
}

TEST_CASE("export service: a dump is spooled and hashed, one at a time", "[agent]") {
  test::temp_dir dir;
  agent_config cfg;
  cfg.source = agent_source::command;
  cfg.command = "sleep 0.2; printf backup-bytes";
  cfg.format = "bin";
  cfg.spool_dir = dir.file("spool");
  std::ostringstream log_text;
  logger log(log_format::text, &log_text);
  asio::io_context io;
  asio::thread_pool files(1);
  export_service exports(io.get_executor(), files, cfg, log);
  REQUIRE(exports.open());
  auto first = exports.start();
  REQUIRE(first.started);
  auto second = exports.start();
  CHECK_FALSE(second.started);
  CHECK(second.current.id == first.current.id);
  auto wait = [&]() -> asio::awaitable<void> { co_await exports.wait_finished(first.current.id); };
  test::run_with_deadline(io, wait());
  auto snap = exports.find(first.current.id);
  REQUIRE(snap);
  CHECK(snap->phase == export_phase::ready);
  CHECK(snap->size == 12);
  CHECK(snap->sha256 == sha256_hex("backup-bytes"));
  REQUIRE(exports.estimate());
  CHECK(exports.estimate()->size == 12);
  REQUIRE(exports.open_download(first.current.id));
  exports.downloaded(first.current.id);
  CHECK_FALSE(exports.find(first.current.id));
  for (const auto& entry : std::filesystem::directory_iterator(cfg.spool_dir))
    CHECK(entry.path().filename() == "last-run.json");  // the spool itself is gone
  exports.stop();
  io.run_for(std::chrono::milliseconds(20));
  files.join();
}
