#include "respaldo/schedule/prober.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <vector>

#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/jobs/control.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

sys_seconds now_seconds() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// One round's shared state: workers take the next app until none is left.
struct probe_round {
  explicit probe_round(asio::any_io_executor ex)
      : done(ex, asio::steady_timer::time_point::max()) {}
  std::vector<std::string> apps;
  std::size_t next = 0;
  std::size_t workers = 0;  // still running
  asio::steady_timer done;
};

}  // namespace

app_health health_from_probe(const outcome<app_capabilities>& probe, sys_seconds now) {
  app_health h;
  h.checked_at = now;
  if (probe) {
    h.status = health_status::ok;
    h.capabilities = capabilities_json(*probe);
    return h;
  }
  const auto& code = probe.error().code;
  if (code == errc::app_unauthorized)
    h.status = health_status::unauthorized;
  else if (code == errc::app_contract_violation)
    h.status = health_status::invalid;
  else
    h.status = health_status::unreachable;
  h.detail = probe.error().message;
  return h;
}

json::object capabilities_json(const app_capabilities& caps) {
  json::array types;
  for (const auto& t : caps.types) types.emplace_back(t);
  json::object o;
  o["types"] = std::move(types);
  o["est_seconds"] = caps.est_seconds ? json::value(*caps.est_seconds) : json::value(nullptr);
  o["est_size"] = caps.est_size ? json::value(*caps.est_size) : json::value(nullptr);
  return o;
}

std::optional<event_kind> health_transition(health_status previous, health_status now) {
  const bool was_bad = previous != health_status::ok && previous != health_status::unknown;
  if (now == health_status::ok)
    return was_bad ? std::optional(event_kind::app_healthy_again) : std::nullopt;
  if (now == health_status::unknown || was_bad) return std::nullopt;
  return event_kind::app_unhealthy;
}

struct prober::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, store& d, token_seal& t, contract_client& c, prober_options o,
       logger& l, metrics& m)
      : ex(std::move(e)), db(d), tokens(t), apps(c), options(o), log(l), stats(m), timer(ex) {}

  asio::any_io_executor ex;
  store& db;
  token_seal& tokens;
  contract_client& apps;
  prober_options options;
  logger& log;
  metrics& stats;
  asio::steady_timer timer;
  bool stopped = false;
  event_sink* events = nullptr;

  void publish_transition(const app_record& a, health_status previous) {
    auto kind = health_transition(previous, a.health.status);
    if (!kind || !events) return;
    event_record e;
    e.kind = *kind;
    e.app = a.name;
    e.at = a.health.checked_at.value_or(now_seconds());
    if (*kind == event_kind::app_unhealthy) {
      e.error_code = std::string(to_string(a.health.status));
      e.error_message = a.health.detail;
    }
    events->publish(e);
  }

  asio::awaitable<void> probe_one(std::string name) {
    auto self = shared_from_this();
    auto found = db.get_app(name);
    if (!found || !*found) co_return;
    app_record app = **found;
    app.token = tokens.open(name, app.sealed_token).value_or("");
    if (app.token.empty()) {
      log.warn("app not probed: its token cannot be unsealed", {{"app", name}});
      co_return;
    }
    // The probe's deadline: stopping the control cuts the connection it waits on.
    auto control = std::make_shared<job_control>();
    outcome<app_capabilities> result = failure{};
    {
      const stop_after deadline(
          ex, options.timeout, control,
          failure{make_error_code(errc::app_timeout),
                  "GET /backup/capabilities took longer than " +
                      std::to_string(static_cast<std::int64_t>(options.timeout.count())) + " ms"});
      result = co_await apps.probe(app, control.get());
    }

    auto health = health_from_probe(result, now_seconds());
    // Read the record again: it may have changed while the probe was in flight.
    auto fresh = db.get_app(name);
    if (!fresh || !*fresh) co_return;
    app_record a = **fresh;
    if (!tokens.open(name, a.sealed_token)) co_return;
    const health_status previous_status = a.health.status;
    const std::string previous(to_string(previous_status));
    if (!health.capabilities) health.capabilities = a.health.capabilities;
    a.health = std::move(health);
    if (auto done = db.update_app(a); !done && done.error().code != errc::not_found)
      log.error("could not save an app's health",
                {{"app", name}, {"error", std::string(code_name(done.error().code))}});
    const std::string status(to_string(a.health.status));
    stats.add("respaldo_app_probes_total", 1, {{"status", status}});
    publish_transition(a, previous_status);
    if (status != previous) {
      if (a.health.status == health_status::ok)
        log.info("app health changed", {{"app", name}, {"status", status}, {"previous", previous}});
      else
        log.warn("app health changed", {{"app", name},
                                        {"status", status},
                                        {"previous", previous},
                                        {"detail", a.health.detail}});
    }
  }

  asio::awaitable<void> worker(std::shared_ptr<probe_round> round) {
    auto self = shared_from_this();
    while (round->next < round->apps.size() && !stopped) {
      std::string name = round->apps[round->next++];
      auto probe = probe_one(std::move(name));
      co_await std::move(probe);
    }
    if (--round->workers == 0) round->done.cancel();
  }

  asio::awaitable<void> probe_all() {
    auto self = shared_from_this();
    auto round = std::make_shared<probe_round>(ex);
    std::string after;
    while (true) {
      auto page = db.list_apps(500, after);
      if (!page) {
        log.error("prober could not read the apps");
        co_return;
      }
      for (const auto& a : *page) round->apps.push_back(a.name);
      if (page->size() < 500) break;
      after = page->back().name;
    }
    const auto n = std::min<std::size_t>(std::max(1u, options.concurrency), round->apps.size());
    round->workers = n;
    for (std::size_t i = 0; i < n; ++i) {
      auto task = [self, round]() -> asio::awaitable<void> {
        auto work = self->worker(round);
        co_await std::move(work);
      };
      asio::co_spawn(ex, std::move(task), asio::detached);
    }
    while (round->workers > 0) co_await round->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    while (!stopped) {
      co_await probe_all();
      if (stopped) break;
      timer.expires_after(options.interval);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
};

prober::prober(asio::any_io_executor ex, store& db, token_seal& tokens, contract_client& apps,
               prober_options options, logger& log, metrics& stats)
    : impl_(std::make_shared<impl>(std::move(ex), db, tokens, apps, options, log, stats)) {
  stats.describe("respaldo_app_probes_total", metrics::kind::counter,
                 "Health probes of the apps' GET /backup/capabilities, by resulting status.");
}

prober::~prober() {
  impl_->stopped = true;
}

void prober::start() {
  if (impl_->options.interval.count() <= 0) {
    impl_->log.info("app health probes disabled (--probe-interval 0)");
    return;
  }
  impl_->stopped = false;
  auto self = impl_;
  auto loop = [self]() -> asio::awaitable<void> {
    auto run = self->loop();
    co_await std::move(run);
  };
  asio::co_spawn(impl_->ex, std::move(loop), asio::detached);
}

void prober::set_event_sink(event_sink* sink) {
  impl_->events = sink;
}

void prober::stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
}

void prober::app_changed(const std::string& app) {
  if (impl_->stopped || impl_->options.interval.count() <= 0) return;
  auto self = impl_;
  auto task = [self, app]() -> asio::awaitable<void> {
    auto probe = self->probe_one(app);
    co_await std::move(probe);
  };
  asio::co_spawn(impl_->ex, std::move(task), asio::detached);
}

asio::awaitable<void> prober::probe_all() {
  return impl_->probe_all();
}

asio::awaitable<void> prober::probe_one(std::string app) {
  return impl_->probe_one(std::move(app));
}

}  // namespace respaldo
