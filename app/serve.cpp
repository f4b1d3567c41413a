// The composition root of `respaldo serve`: each step builds one layer (state, storage, services)
// and the last one runs the io_context until a signal stops it.
#include "serve.hpp"

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "respaldo/api/api.hpp"
#include "respaldo/api/event_hub.hpp"
#include "respaldo/config/bootstrap.hpp"
#include "respaldo/config/config.hpp"
#include "respaldo/contract/client.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/process_metrics.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/http/client/client.hpp"
#include "respaldo/http/server.hpp"
#include "respaldo/jobs/backup_metrics.hpp"
#include "respaldo/jobs/hash_workers.hpp"
#include "respaldo/jobs/runner.hpp"
#include "respaldo/notify/delivery_loop.hpp"
#include "respaldo/notify/outbox.hpp"
#include "respaldo/schedule/freshness_monitor.hpp"
#include "respaldo/schedule/prober.hpp"
#include "respaldo/schedule/scheduler.hpp"
#include "respaldo/storage/drive/drive_auth.hpp"
#include "respaldo/storage/drive/drive_storage.hpp"
#include "respaldo/storage/local/local_storage.hpp"
#include "respaldo/store/sqlite/sqlite_store.hpp"

namespace respaldo {

namespace {

namespace asio = boost::asio;

log_level level_from(const std::string& s) {
  if (s == "debug") return log_level::debug;
  if (s == "warn") return log_level::warn;
  if (s == "error") return log_level::error;
  return log_level::info;
}

// 1024 API connections plus the database, backup files and app connections need more
// descriptors than a common default soft limit (1024) allows; the hard limit is ours to take.
void raise_descriptor_limit(logger& log) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  const auto soft = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
    log.warn("cannot raise the open file limit",
             {{"soft", static_cast<std::uint64_t>(soft)},
              {"hard", static_cast<std::uint64_t>(lim.rlim_max)}});
}

// The persistent state: admin token, secret key and database (the box outlives the store).
struct state {
  admin_token_source token;
  std::string metrics_token;
  std::optional<secret_box> box;
  std::optional<token_seal> tokens;
  std::unique_ptr<store> db;
};

std::optional<int> open_state(const serve_config& cfg, logger& log, state& s) {
  if (auto ok = prepare_data_dir(cfg.data_dir); !ok) {
    log.error("cannot start", {{"error", ok.error().message}});
    return 1;
  }
  const char* env_token = std::getenv("RESPALDO_ADMIN_TOKEN");
  auto token = load_admin_token(cfg.admin_token_file, env_token ? env_token : "", cfg.data_dir);
  if (!token) {
    log.error("cannot start", {{"error", token.error().message}});
    return 1;
  }
  s.token = std::move(*token);
  log.info("admin token loaded", {{"source", s.token.origin}});

  const std::string key_file = cfg.secret_key_file.empty()
                                   ? (std::filesystem::path(cfg.data_dir) / "secret.key").string()
                                   : cfg.secret_key_file;
  auto box = secret_box::load_or_create(key_file, cfg.secret_key_file.empty());
  if (!box) {
    log.error("cannot start", {{"error", box.error().message}});
    return 1;
  }
  s.box.emplace(std::move(*box));
  const std::string db_path = (std::filesystem::path(cfg.data_dir) / "respaldo.db").string();
  auto db = make_sqlite_store(db_path, log);
  if (!db) {
    log.error("cannot open the database",
              {{"code", std::string(code_name(db.error().code))}, {"error", db.error().message}});
    return 1;
  }
  s.db = std::move(*db);
  s.tokens.emplace(*s.box, log);
  return std::nullopt;
}

void describe_store_metrics(metrics& stats, const store* db) {
  stats.describe("respaldo_store_calls_total", metrics::kind::counter,
                 "Calls into the SQLite store.");
  stats.describe("respaldo_store_call_seconds_total", metrics::kind::counter,
                 "Time the io_context spent inside store calls.");
  stats.describe("respaldo_store_call_seconds_max", metrics::kind::gauge,
                 "Longest single store call.");
  stats.on_render([db](metrics& m) {
    const auto& s = db->stats();
    m.set("respaldo_store_calls_total", static_cast<double>(s.calls));
    m.set("respaldo_store_call_seconds_total", static_cast<double>(s.total_ns) / 1e9);
    m.set("respaldo_store_call_seconds_max", static_cast<double>(s.max_ns) / 1e9);
  });
}

// Where backups go: the local directory, or Google Drive with its own client and tokens.
struct backup_storage {
  backup_storage(asio::thread_pool& blocking, const std::string& root) : local(blocking, root) {}

  local_storage local;
  std::unique_ptr<http_client> drive_client;
  std::unique_ptr<drive_token_source> drive_tokens;
  std::unique_ptr<drive_storage> drive;
  storage* active = &local;
};

// A broken credentials file stops start-up here (exit 2), naming the field.
std::optional<int> open_drive(const serve_config& cfg, asio::io_context& io,
                              const std::shared_ptr<tls_context>& tls, logger& log,
                              backup_storage& b) {
  auto creds = load_drive_credentials(cfg.drive_credentials);
  if (!creds) {
    log.error("cannot start", {{"error", "--drive-credentials: " + creds.error().message}});
    return 2;
  }
  http_client_options drive_client_options;
  drive_client_options.connect_timeout = cfg.connect_timeout;
  drive_client_options.io_timeout = cfg.read_timeout;
  b.drive_client = std::make_unique<http_client>(io.get_executor(), drive_client_options, tls);
  const std::string token_url = drive_token_url(*creds, cfg.drive_token_url);
  const std::string principal = creds->type == drive_credentials::kind::service_account
                                    ? creds->client_email
                                    : "authorized_user " + creds->client_id;
  b.drive_tokens = std::make_unique<drive_token_source>(*b.drive_client, std::move(*creds),
                                                        token_url, cfg.drive_impersonate, &log);
  drive_storage_options dopts;
  dopts.api_url = cfg.drive_api_url;
  dopts.retry.base_delay =
      std::min<std::chrono::milliseconds>(cfg.retry_base_delay, std::chrono::seconds(1));
  dopts.retry.max_delay =
      std::min<std::chrono::milliseconds>(cfg.retry_max_delay, std::chrono::seconds(32));
  dopts.log = &log;
  dopts.md5_in_flight = cfg.drive_md5;
  auto created = drive_storage::create(*b.drive_client, *b.drive_tokens, dopts);
  if (!created) {
    log.error("cannot start", {{"error", created.error().message}});
    return 2;
  }
  b.drive = std::move(*created);
  b.active = b.drive.get();
  log.info("drive storage", {{"api", cfg.drive_api_url},
                             {"token_url", token_url},
                             {"principal", principal},
                             {"impersonate", cfg.drive_impersonate}});
  return std::nullopt;
}

runner_options runner_options_of(const serve_config& cfg) {
  runner_options ropts;
  ropts.max_concurrent_jobs = cfg.max_concurrent_jobs;
  ropts.max_attempts = cfg.max_attempts;
  ropts.retry = {cfg.retry_base_delay, cfg.retry_max_delay};
  ropts.chunk_size = cfg.chunk_size;
  ropts.job_deadline = cfg.job_deadline;
  ropts.progress_interval = cfg.progress_interval;
  ropts.max_backup_size = cfg.max_backup_size;
  ropts.default_timezone = cfg.timezone;
  return ropts;
}

// Notifications: the outbox jobs and probes publish to, and the loop delivering it over a client
// of its own, which may reach any address but link-local ones and respaldo's own API.
struct notifications {
  address_policy addresses;  // `own` filled in once the API listens
  std::unique_ptr<http_client> client;
  std::unique_ptr<outbox> box;
  std::unique_ptr<delivery_loop> loop;
};

void open_notifications(const serve_config& cfg, asio::io_context& io,
                        const std::shared_ptr<tls_context>& tls, logger& log, metrics& stats,
                        state& st, notifications& n) {
  http_client_options opts;
  opts.connect_timeout = cfg.notify_timeout;
  opts.io_timeout = cfg.notify_timeout;
  opts.endpoint_filter = [&n](const asio::ip::tcp::endpoint& to) {
    return check_endpoint(n.addresses, to);
  };
  n.client = std::make_unique<http_client>(io.get_executor(), opts, tls);
  n.box = std::make_unique<outbox>(*st.db, log, stats,
                                   outbox_options{cfg.public_url, cfg.notify_max_pending});
  delivery_options dopts;
  dopts.retry.backoff = {cfg.notify_retry_base, cfg.notify_retry_max};
  dopts.timeout = cfg.notify_timeout;
  n.loop = std::make_unique<delivery_loop>(io.get_executor(), *st.db, *st.tokens, *n.client, log,
                                           stats, dopts);
  n.box->on_enqueued([loop = n.loop.get()] { loop->wake(); });
}

// Every event goes to the notification outbox and to the live stream.
class event_tee final : public event_sink {
 public:
  event_tee(event_sink& a, event_sink& b) : a_(a), b_(b) {}
  void publish(const event_record& e) override {
    a_.publish(e);
    b_.publish(e);
  }

 private:
  event_sink& a_;
  event_sink& b_;
};

// First signal: stop taking work, drain the server and the jobs, then stop the io_context.
// A second signal means "now": the store is consistent after every statement and jobs left
// running are recovered at the next start.
void on_shutdown_signal(asio::signal_set& signals, asio::io_context& io, const serve_config& cfg,
                        logger& log, scheduler& schedules, prober& probes,
                        freshness_monitor& freshness, http_server& server, job_runner& runner,
                        delivery_loop& deliveries, event_hub& events) {
  auto on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log.info("shutting down", {{"signal", sig}});
    schedules.stop();
    probes.stop();
    deliveries.stop();  // pending rows stay in the store for the next start
    freshness.stop();
    auto stop = [&]() -> asio::awaitable<void> {
      events.close();  // open event streams end; their connections then close like the others
      co_await server.shutdown(cfg.shutdown_grace);
      co_await runner.shutdown(cfg.shutdown_grace);
      io.stop();
    };
    asio::co_spawn(io, stop, asio::detached);
    auto on_second = [&log](const boost::system::error_code& ec2, int sig2) {
      if (ec2) return;
      log.warn("second signal: exiting without waiting", {{"signal", sig2}});
      std::_Exit(1);
    };
    signals.async_wait(on_second);
  };
  signals.async_wait(on_signal);
}

// The services over the state and the storage: runner, scheduler, prober, REST API and server.
// Runs until a signal stops them.
int run_services(const serve_config& cfg, logger& log, state& st, asio::io_context& io,
                 asio::thread_pool& blocking, metrics& stats, http_client& app_client,
                 storage& backups, address_policy& app_addresses, notifications& notify) {
  exporter_options contract_opts;
  contract_opts.poll_max = cfg.deferred_poll_max;
  contract_opts.allowed_download_origins = cfg.allowed_download_origins;
  auto contract = make_contract_client(app_client, contract_opts);
  hash_workers hashing(cfg.hash_threads);
  job_runner runner(io.get_executor(), *st.db, *st.tokens, backups, *contract, system_wall_clock(),
                    runner_options_of(cfg), log, stats);
  runner.set_hash_workers(&hashing);
  scheduler_options schedule_opts;
  schedule_opts.default_timezone = cfg.timezone;
  schedule_opts.jitter = std::chrono::duration_cast<std::chrono::seconds>(cfg.schedule_jitter);
  auto enqueue = [&runner](const app_record& app, job_kind kind, job_trigger trigger) {
    return runner.enqueue(app, kind, trigger);
  };
  scheduler schedules(io.get_executor(), *st.db, enqueue, system_wall_clock(), schedule_opts, log,
                      stats);
  event_hub_options event_opts;
  event_opts.heartbeat = cfg.events_heartbeat;
  event_opts.max_subscribers = cfg.max_event_streams;
  event_hub events(io.get_executor(), event_opts, log);
  event_tee sink(*notify.box, events);
  runner.on_job_change([&events](const job_record& job) { events.job_changed(job); });
  runner.set_event_sink(&sink);
  freshness_monitor_options fresh_opts;
  fresh_opts.default_timezone = cfg.timezone;
  freshness_monitor freshness(io.get_executor(), *st.db, system_wall_clock(), fresh_opts, log);
  freshness.set_event_sink(&sink);
  runner.on_finished([&schedules, &freshness](const job_record& job) {
    schedules.job_finished(job);
    freshness.app_changed(job.app);
  });
  prober_options probe_opts;
  probe_opts.interval = cfg.probe_interval;
  prober probes(io.get_executor(), *st.db, *st.tokens, *contract, probe_opts, log, stats);
  probes.set_event_sink(&sink);
  auto app_changed = [&schedules, &probes, &freshness, &events](const std::string& app) {
    events.app_changed(app);
    schedules.app_changed(app);
    probes.app_changed(app);
    freshness.app_changed(app);
  };
  api_services services{*st.db,         *st.tokens,   log,     stats,    system_wall_clock(),
                        st.token.token, cfg.timezone, &runner, &backups, app_changed};
  services.app_addresses = &app_addresses;
  services.notifications = notify.box.get();
  services.events = &events;
  services.download_link_ttl =
      std::chrono::duration_cast<std::chrono::seconds>(cfg.download_link_ttl);
  services.metrics_token = st.metrics_token;
  // From the key file, so a link outlives a restart and any server sharing the key accepts it.
  services.download_link_key = st.box->derive_key("download-links");
  describe_backup_metrics(stats, *st.db, system_wall_clock(), cfg.timezone);
  api rest(services);

  http_server_options sopts;
  sopts.body_limit = cfg.max_body_bytes;
  sopts.read_timeout = cfg.request_timeout;
  sopts.handler_timeout = cfg.request_timeout;
  sopts.max_connections_per_client = cfg.max_connections_per_client;
  auto handler = [&rest](http_request& req) { return rest.handle(req); };
  http_server server(io.get_executor(), handler, sopts, log);
  auto bound = server.listen(cfg.listen_host, cfg.listen_port);
  if (!bound) {
    log.error("cannot listen",
              {{"address", cfg.listen_host + ":" + std::to_string(cfg.listen_port)},
               {"error", bound.error().message()}});
    return 1;
  }
  // Apps must never send respaldo to its own API (a redirect, a name resolving to it).
  app_addresses.own.push_back(*bound);
  notify.addresses.own.push_back(*bound);
  if (cfg.public_url.empty())
    notify.box->set_public_url("http://" + bound->address().to_string() + ":" +
                               std::to_string(bound->port()));
  // Installed before "listening" is logged: a SIGTERM right after that line must shut down
  // gracefully, not kill the process with the default disposition.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  runner.start();
  schedules.start();
  probes.start();
  notify.loop->start();
  freshness.start();
  server.start();
  log.info("listening",
           {{"address", bound->address().to_string() + ":" + std::to_string(bound->port())},
            {"storage", std::string(to_string(backups.kind()))},
            {"version", RESPALDO_VERSION}});
  on_shutdown_signal(signals, io, cfg, log, schedules, probes, freshness, server, runner,
                     *notify.loop, events);
  io.run();
  blocking.join();
  log.info("stopped");
  return 0;
}

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  auto parsed = parse_serve_config(args);
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message;
    return parsed.exit_code;
  }
  const serve_config cfg = *parsed.config;
  logger log(cfg.log_format == "json" ? log_format::json : log_format::text, &std::cerr,
             level_from(cfg.log_level));
  raise_descriptor_limit(log);
  state st;
  auto metrics_token = load_metrics_token(cfg.metrics_token_file);
  if (!metrics_token) {
    log.error("cannot start",
              {{"error", "--metrics-token-file: " + metrics_token.error().message}});
    return 2;
  }
  if (auto failed = open_state(cfg, log, st)) return *failed;
  st.metrics_token = std::move(*metrics_token);
  if (!st.metrics_token.empty()) log.info("/metrics requires its bearer token");

  asio::io_context io{1};
  asio::thread_pool blocking(2);
  metrics stats;
  describe_store_metrics(stats, st.db.get());
  describe_process_metrics(stats, RESPALDO_VERSION);
  auto made_tls = make_tls_context(cfg.ca_file);
  if (!made_tls) {
    log.error("cannot start", {{"error", "--ca-file: " + made_tls.error().message}});
    return 2;
  }
  auto tls = std::move(*made_tls);
  // Filled in with the API's own address once it listens; read at every app connection.
  address_policy app_addresses{cfg.app_networks, {}};
  http_client_options app_client_options;
  app_client_options.connect_timeout = cfg.connect_timeout;
  app_client_options.io_timeout = cfg.read_timeout;
  app_client_options.endpoint_filter = [&app_addresses](const asio::ip::tcp::endpoint& to) {
    return check_endpoint(app_addresses, to);
  };
  http_client app_client(io.get_executor(), app_client_options, tls);

  backup_storage backups(blocking, (std::filesystem::path(cfg.data_dir) / "backups").string());
  if (auto n = backups.local.remove_partials())
    log.warn("removed unfinished uploads of a previous run",
             {{"files", static_cast<std::uint64_t>(n)}});
  if (cfg.storage == "drive")
    if (auto failed = open_drive(cfg, io, tls, log, backups)) return *failed;
  notifications notify;
  open_notifications(cfg, io, tls, log, stats, st, notify);
  return run_services(cfg, log, st, io, blocking, stats, app_client, *backups.active, app_addresses,
                      notify);
}

}  // namespace respaldo
