#include "respaldo/schedule/scheduler.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <tuple>

#include "respaldo/core/ids.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;

std::optional<sys_seconds>& next_of(schedule_entry& e, schedule_kind k) {
  return k == schedule_kind::backup ? e.next_run_at : e.next_verify_at;
}
std::optional<sys_seconds>& next_of(app_record& a, schedule_kind k) {
  return k == schedule_kind::backup ? a.next_run_at : a.next_verify_at;
}

}  // namespace

schedule_entry make_schedule_entry(const app_record& app, const scheduler_options& options) {
  schedule_entry e;
  e.app = app.name;
  if (!app.schedule.empty())
    if (auto c = cron_schedule::parse(app.schedule); c.has_value()) e.backup = *c;
  if (!app.verify_schedule.empty())
    if (auto c = cron_schedule::parse(app.verify_schedule); c.has_value()) e.verify = *c;
  e.tz = find_time_zone(app.timezone.empty() ? options.default_timezone : app.timezone);
  if (!e.tz && !app.timezone.empty()) e.tz = find_time_zone(options.default_timezone);
  e.offset = jitter_offset(app.name, options.jitter);
  e.next_run_at = app.next_run_at;
  e.next_verify_at = app.next_verify_at;
  return e;
}

struct scheduler::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, store& d, enqueue_function q, const wall_clock& c,
       scheduler_options o, logger& l, metrics& m)
      : ex(std::move(e)),
        db(d),
        enqueue(std::move(q)),
        clock(c),
        options(std::move(o)),
        log(l),
        stats(m),
        timer(ex) {}

  asio::any_io_executor ex;
  store& db;
  enqueue_function enqueue;
  const wall_clock& clock;
  scheduler_options options;
  logger& log;
  metrics& stats;
  asio::steady_timer timer;
  std::vector<schedule_entry> entries;  // sorted by app name
  std::optional<sys_seconds> wake;
  bool loaded = false;
  bool stopped = false;

  void count(schedule_kind kind, std::string_view outcome) {
    stats.add("respaldo_schedule_runs_total", 1,
              {{"kind", std::string(to_string(kind))}, {"outcome", std::string(outcome)}});
  }

  std::vector<schedule_entry>::iterator find(const std::string& app) {
    auto it =
        std::lower_bound(entries.begin(), entries.end(), app,
                         [](const schedule_entry& e, const std::string& n) { return e.app < n; });
    return it != entries.end() && it->app == app ? it : entries.end();
  }

  void put(const app_record& app) {
    auto entry = make_schedule_entry(app, options);
    auto it =
        std::lower_bound(entries.begin(), entries.end(), app.name,
                         [](const schedule_entry& e, const std::string& n) { return e.app < n; });
    if (it != entries.end() && it->app == app.name)
      *it = std::move(entry);
    else
      entries.insert(it, std::move(entry));
  }

  bool load_all() {
    std::vector<schedule_entry> fresh;
    std::string after;
    while (true) {
      auto page = db.list_apps(500, after);
      if (!page) {
        log.error("scheduler could not read the apps; retrying later");
        return false;
      }
      for (const auto& a : *page) fresh.push_back(make_schedule_entry(a, options));
      if (page->size() < 500) break;
      after = page->back().name;
    }
    std::sort(fresh.begin(), fresh.end(),
              [](const schedule_entry& a, const schedule_entry& b) { return a.app < b.app; });
    entries = std::move(fresh);
    loaded = true;
    return true;
  }

  // Writes an app record back; its sealed token goes back as read (the scheduler never opens it).
  void save_app(const app_record& a) {
    if (auto done = db.update_app(a); !done && done.error().code != errc::not_found)
      log.error("could not save the schedule state",
                {{"app", a.name}, {"error", std::string(code_name(done.error().code))}});
  }

  void record_overlap(const app_record& app, schedule_kind kind, const due_run& run,
                      const job_record& active, sys_seconds now) {
    job_record skipped;
    skipped.id = random_hex_id(8);
    skipped.app = app.name;
    skipped.kind = kind;
    skipped.trigger = job_trigger::schedule;
    skipped.state = job_state::cancelled;
    skipped.created_at = now;
    skipped.finished_at = now;
    skipped.max_attempts = active.max_attempts;
    skipped.error_code = "schedule_overlap";
    skipped.error_message = "skipped: the scheduled " + std::string(to_string(kind)) + " due at " +
                            format_rfc3339_utc(run.due_at) + " did not start because job " +
                            active.id + " was still " + std::string(to_string(active.state));
    if (auto done = db.insert_job(skipped); !done)
      log.error("could not record a skipped run",
                {{"app", app.name}, {"error", std::string(code_name(done.error().code))}});
    log.warn("scheduled run skipped: the previous job is still active",
             {{"app", app.name},
              {"kind", to_string(kind)},
              {"active_job", active.id},
              {"active_state", std::string(to_string(active.state))},
              {"due_at", format_rfc3339_utc(run.due_at)},
              {"record", skipped.id}});
    count(kind, "skipped_overlap");
  }

  void run(const due_run& r, sys_seconds now) {
    const std::string kind(to_string(r.kind));
    auto app = db.get_app(r.app);
    if (!app) {
      log.error("scheduled run lost: the database could not be read",
                {{"app", r.app}, {"kind", kind}});
      count(r.kind, "failed");
      return;
    }
    if (!*app) return;  // deleted meanwhile; app_changed removes the entry
    auto active = db.active_job(r.app, r.kind);
    if (!active) {
      log.error("scheduled run lost: the database could not be read",
                {{"app", r.app}, {"kind", kind}});
      count(r.kind, "failed");
      return;
    }
    bool has_backup = true;
    if (r.kind == schedule_kind::verify) {
      auto latest = db.list_backups(r.app, 1, std::nullopt);
      has_backup = latest && !latest->empty();
    }
    switch (decide_run(r.kind, active->has_value(), has_backup)) {
      case run_decision::skip_overlap:
        record_overlap(**app, r.kind, r, **active, now);
        return;
      case run_decision::skip_no_backup:
        log.info("scheduled verification skipped: the app has no backup yet", {{"app", r.app}});
        count(r.kind, "skipped_no_backup");
        return;
      case run_decision::start:
        break;
    }
    auto job = enqueue(**app, r.kind, job_trigger::schedule);
    if (!job) {
      log.error("scheduled run lost: the job could not be queued",
                {{"app", r.app}, {"kind", kind}, {"detail", job.error().message}});
      count(r.kind, "failed");
      return;
    }
    log.info("scheduled job queued", {{"app", r.app},
                                      {"kind", kind},
                                      {"job_id", job->id},
                                      {"due_at", format_rfc3339_utc(r.due_at)}});
    count(r.kind, "started");
  }

  std::optional<sys_seconds> tick() {
    if (stopped) return std::nullopt;
    if (!loaded && !load_all()) return std::nullopt;
    const auto now = clock.now();
    auto plan = plan_due(entries, now);
    // Queue first, then persist the next times: a crash in between leaves the run due and its
    // job queued, so the next start records an overlap instead of losing the run.
    for (const auto& r : plan.due) run(r, now);
    std::size_t i = 0;
    while (i < plan.changes.size()) {
      const auto& name = plan.changes[i].app;
      auto it = find(name);
      auto fresh = db.get_app(name);
      const bool exists = fresh && *fresh;
      app_record a = exists ? **fresh : app_record{};
      for (; i < plan.changes.size() && plan.changes[i].app == name; ++i) {
        const auto& c = plan.changes[i];
        if (it != entries.end()) next_of(*it, c.kind) = c.next;
        if (exists) next_of(a, c.kind) = c.next;
      }
      if (exists) save_app(a);
    }
    wake = plan.next_wake;
    return wake;
  }

  void job_finished(const job_record& job) {
    if (job.kind == job_kind::backup && (job.started_at || job.state == job_state::succeeded)) {
      auto fresh = db.get_app(job.app);
      if (fresh && *fresh) {
        app_record a = **fresh;
        bool changed = false;
        if (job.started_at && (!a.last_run_at || *a.last_run_at < *job.started_at)) {
          a.last_run_at = job.started_at;
          changed = true;
        }
        if (job.state == job_state::succeeded && job.finished_at &&
            (!a.last_success_at || *a.last_success_at < *job.finished_at)) {
          a.last_success_at = job.finished_at;
          changed = true;
        }
        if (changed) save_app(a);
      }
    }
    timer.cancel();
  }

  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto next = tick();
      auto wait = options.max_wait;
      if (next) {
        const auto now = clock.now();
        wait = *next <= now ? std::chrono::seconds(0) : std::min(options.max_wait, *next - now);
      }
      timer.expires_after(wait);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
};

scheduler::scheduler(asio::any_io_executor ex, store& db, enqueue_function enqueue,
                     const wall_clock& clock, scheduler_options options, logger& log,
                     metrics& stats)
    : impl_(std::make_shared<impl>(std::move(ex), db, std::move(enqueue), clock, std::move(options),
                                   log, stats)) {
  stats.describe("respaldo_schedule_runs_total", metrics::kind::counter,
                 "Scheduled runs that came due, by kind and outcome (started, skipped_overlap, "
                 "skipped_no_backup, failed).");
}

scheduler::~scheduler() {
  impl_->stopped = true;
}

void scheduler::start() {
  impl_->stopped = false;
  impl_->load_all();
  impl_->log.info("scheduler started",
                  {{"apps", static_cast<std::uint64_t>(impl_->entries.size())},
                   {"jitter_s", static_cast<std::int64_t>(impl_->options.jitter.count())}});
  auto self = impl_;
  auto loop = [self]() -> asio::awaitable<void> { co_await self->loop(); };
  asio::co_spawn(impl_->ex, std::move(loop), asio::detached);
}

void scheduler::stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
}

void scheduler::app_changed(const std::string& app) {
  if (impl_->stopped || !impl_->loaded) return;  // start() loads everything
  auto fresh = impl_->db.get_app(app);
  if (!fresh) {
    impl_->log.error("scheduler could not reload an app", {{"app", app}});
    return;
  }
  if (*fresh) {
    impl_->put(**fresh);
  } else if (auto it = impl_->find(app); it != impl_->entries.end()) {
    impl_->entries.erase(it);
  }
  impl_->tick();  // the API answers with the new next_run_at
  impl_->timer.cancel();
}

void scheduler::job_finished(const job_record& job) {
  impl_->job_finished(job);
}

std::optional<sys_seconds> scheduler::tick() {
  return impl_->tick();
}

std::optional<sys_seconds> scheduler::next_wake() const {
  return impl_->wake;
}

}  // namespace respaldo
