#include "respaldo/schedule/freshness_monitor.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <vector>

#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/jobs/freshness.hpp"

namespace respaldo {

event_record freshness_event(const freshness_change& change) {
  event_record e;
  e.kind = change.stale ? event_kind::backup_stale : event_kind::backup_fresh_again;
  e.app = change.app;
  e.at = change.at;
  if (change.stale) {
    e.error_code = "stale";
    e.error_message =
        (change.newest_good_backup
             ? "no good backup since " + format_rfc3339_utc(*change.newest_good_backup)
             : std::string("no good backup yet")) +
        "; stale_after is " + format_duration(change.stale_after);
  }
  return e;
}

namespace asio = boost::asio;

struct freshness_monitor::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, store& d, const wall_clock& c, freshness_monitor_options o,
       logger& l)
      : ex(std::move(e)), db(d), clock(c), options(std::move(o)), log(l), timer(ex) {}

  asio::any_io_executor ex;
  store& db;
  const wall_clock& clock;
  freshness_monitor_options options;
  logger& log;
  asio::steady_timer timer;
  bool stopped = false;
  std::vector<std::function<void(const freshness_change&)>> observers;

  void report(const freshness_change& change) {
    if (change.stale)
      log.warn("app is stale: no good backup within stale_after",
               {{"app", change.app},
                {"stale_since", format_rfc3339_utc(change.at)},
                {"stale_after_s", static_cast<std::int64_t>(change.stale_after.count())}});
    else
      log.info("app is fresh again",
               {{"app", change.app}, {"backup_at", format_rfc3339_utc(change.at)}});
    for (auto& o : observers) o(change);
  }

  // Compares the decision with the stored episode and records a transition; returns when this
  // fresh app would turn stale.
  std::optional<sys_seconds> judge(const app_record& app, const app_activity& activity,
                                   sys_seconds now) {
    const auto f = freshness_of(app, activity.newest_good_backup_at, now, options.default_timezone);
    freshness_change change{app.name, f.judged.stale, f.judged.stale_at, f.stale_after,
                            activity.newest_good_backup_at};
    if (f.judged.stale && !app.stale_since) {
      if (!db.set_app_stale_since(app.name, f.judged.stale_at)) return std::nullopt;
      report(change);
    } else if (!f.judged.stale && app.stale_since) {
      if (!db.set_app_stale_since(app.name, std::nullopt)) return std::nullopt;
      change.at = activity.newest_good_backup_at.value_or(now);
      report(change);
    }
    if (f.judged.stale) return std::nullopt;
    return f.judged.stale_at;
  }

  std::optional<sys_seconds> evaluate(const std::string& only) {
    auto activities = db.app_activities(only);
    if (!activities) {
      log.error("freshness monitor could not read the apps' backups");
      return std::nullopt;
    }
    // One listing for a round over every app rather than a read per app.
    std::map<std::string, app_record> apps;
    if (only.empty()) {
      auto all = db.list_apps(1'000'000, "");
      if (!all) return std::nullopt;
      for (auto& a : *all) apps.emplace(a.name, std::move(a));
    } else if (auto one = db.get_app(only); one && *one) {
      apps.emplace(only, std::move(**one));
    }
    const auto now = clock.now();
    std::optional<sys_seconds> next;
    for (const auto& a : *activities) {
      auto app = apps.find(a.app);
      if (app == apps.end()) continue;  // deleted meanwhile
      if (auto due = judge(app->second, a, now); due && (!next || *due < *next)) next = due;
    }
    return next;
  }

  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    while (!stopped) {
      const auto due = evaluate("");
      auto sleep = std::chrono::duration_cast<std::chrono::seconds>(options.max_interval);
      // One second past the instant, since an app is stale only once it is strictly older.
      if (due) sleep = std::min(sleep, *due - clock.now() + std::chrono::seconds(1));
      sleep = std::max(sleep, std::chrono::seconds(1));
      timer.expires_after(sleep);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
};

freshness_monitor::freshness_monitor(asio::any_io_executor ex, store& db, const wall_clock& clock,
                                     freshness_monitor_options options, logger& log)
    : impl_(std::make_shared<impl>(std::move(ex), db, clock, std::move(options), log)) {}

freshness_monitor::~freshness_monitor() {
  stop();
}

void freshness_monitor::on_change(std::function<void(const freshness_change&)> observer) {
  impl_->observers.push_back(std::move(observer));
}

void freshness_monitor::set_event_sink(event_sink* sink) {
  if (!sink) return;
  on_change([sink](const freshness_change& change) { sink->publish(freshness_event(change)); });
}

void freshness_monitor::start() {
  auto self = impl_;
  auto loop = [self]() -> asio::awaitable<void> { co_await self->loop(); };
  asio::co_spawn(impl_->ex, std::move(loop), asio::detached);
}

void freshness_monitor::stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
}

void freshness_monitor::app_changed(const std::string& app) {
  evaluate_app(app);
  // A new due time (a shorter stale_after) may come before the loop's next wake-up.
  impl_->timer.cancel();
}

std::optional<sys_seconds> freshness_monitor::evaluate_all() {
  return impl_->evaluate("");
}

void freshness_monitor::evaluate_app(const std::string& app) {
  (void)impl_->evaluate(app);
}

}  // namespace respaldo
