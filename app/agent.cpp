// The composition root of `respaldo agent`: the options, the spool and export service, the
// contract handlers and the same HTTP server as `serve` (limits, access log), and nothing of
// serve's state.
#include "agent.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdlib>
#include <iostream>

#include "respaldo/agent/agent_api.hpp"
#include "respaldo/agent/config.hpp"
#include "respaldo/agent/exports.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/http/server.hpp"

namespace respaldo {

namespace {

namespace asio = boost::asio;

log_level level_of(const std::string& s) {
  if (s == "debug") return log_level::debug;
  if (s == "warn") return log_level::warn;
  if (s == "error") return log_level::error;
  return log_level::info;
}

http_server_options server_options_of(const agent_config& cfg) {
  http_server_options o;
  o.body_limit = 64 * 1024;  // no endpoint takes a body
  o.read_timeout = cfg.request_timeout;
  o.handler_timeout = cfg.request_timeout;
  // stream mode answers POST /backup/export only once the dump is spooled
  if (cfg.mode == agent_mode::stream) o.handler_timeout = cfg.timeout + std::chrono::minutes(1);
  o.max_connections = 64;
  o.max_connections_per_client = 16;
  return o;
}

}  // namespace

int run_agent(const std::vector<std::string>& args) {
  auto parsed = parse_agent_config(args, [](const char* name) { return std::getenv(name); });
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message;
    return parsed.exit_code;
  }
  const agent_config cfg = *parsed.config;
  logger log(cfg.log_format == "json" ? log_format::json : log_format::text, &std::cerr,
             level_of(cfg.log_level));
  asio::io_context io{1};
  asio::thread_pool files(1);  // one thread: the spool is written in order
  export_service exports(io.get_executor(), files, cfg, log);
  if (auto opened = exports.open(); !opened) {
    log.error("cannot start", {{"error", "--spool-dir: " + opened.error().message}});
    return 1;
  }
  agent_api api(cfg, exports, log);
  auto handler = [&api](http_request& req) { return api.handle(req); };
  http_server server(io.get_executor(), handler, server_options_of(cfg), log);
  auto bound = server.listen(cfg.listen_host, cfg.listen_port);
  if (!bound) {
    log.error("cannot listen",
              {{"address", cfg.listen_host + ":" + std::to_string(cfg.listen_port)},
               {"error", bound.error().message()}});
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log.info("shutting down", {{"signal", sig}});
    exports.stop();
    auto stop = [&]() -> asio::awaitable<void> {
      co_await server.shutdown(std::chrono::seconds(5));
      io.stop();
    };
    asio::co_spawn(io, stop, asio::detached);
  });
  server.start();
  log.info("token loaded", {{"source", cfg.token_origin}});
  log.info("listening",
           {{"address", bound->address().to_string() + ":" + std::to_string(bound->port())},
            {"source", to_string(cfg.source)},
            {"format", cfg.format},
            {"mode", cfg.mode == agent_mode::deferred ? "deferred" : "stream"},
            {"version", RESPALDO_VERSION}});
  io.run();
  files.join();
  log.info("stopped");
  return 0;
}

}  // namespace respaldo
