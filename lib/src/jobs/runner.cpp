#include "respaldo/jobs/runner.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <random>
#include <set>

#include "respaldo/core/ids.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/jobs/backup_job.hpp"
#include "respaldo/jobs/control.hpp"
#include "respaldo/jobs/recovery.hpp"
#include "respaldo/jobs/retention_executor.hpp"
#include "respaldo/jobs/verify_job.hpp"
#include "respaldo/plan/retry.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

failure fail(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
}

// Resets what a new attempt of `job` reports.
void begin_attempt(job_record& job, sys_seconds now) {
  job.state = job_state::running;
  job.attempt += 1;
  job.started_at = now;
  job.finished_at.reset();
  job.next_attempt_at.reset();
  job.error_code.clear();
  job.error_message.clear();
  job.bytes_done = 0;
  job.phase = job.kind == job_kind::verify ? job_phase::verifying : job_phase::probing;
}

event_record job_event(const job_record& job, event_kind kind) {
  event_record e;
  e.kind = kind;
  e.app = job.app;
  e.job_id = job.id;
  e.backup_id = job.backup_id;
  e.at = job.finished_at.value_or(job.started_at.value_or(job.created_at));
  e.started_at = job.started_at;
  e.finished_at = job.finished_at;
  if (job.state == job_state::failed) {
    e.error_code = job.error_code;
    e.error_message = job.error_message;
  }
  return e;
}

// The events a job in its final state stands for: only the final failure, never a retry.
void publish_outcome(const job_context& ctx, const job_record& job) {
  if (job.kind == job_kind::backup && job.state == job_state::succeeded)
    ctx.publish(job_event(job, event_kind::backup_succeeded));
  if (job.state != job_state::failed) return;
  if (job.kind == job_kind::backup) ctx.publish(job_event(job, event_kind::backup_failed));
  if (job.kind == job_kind::verify && (job.error_code == code_name(errc::verify_mismatch) ||
                                       job.error_code == code_name(errc::verify_missing)))
    ctx.publish(job_event(job, event_kind::verify_failed));
  if (job.error_code == code_name(errc::drive_quota_exceeded) ||
      job.error_code == code_name(errc::storage_full))
    ctx.publish(job_event(job, event_kind::storage_quota));
}

}  // namespace

void job_context::save(const job_record& job) {
  auto done = db.save_job_progress(job);
  if (done) job_changed(job);
  if (!done)
    log.error("could not persist job progress",
              {{"app", job.app},
               {"job_id", job.id},
               {"error", std::string(code_name(done.error().code))}});
}

bool job_context::end(const job_record& job) {
  auto done = db.end_job_attempt(job);
  if (done) job_changed(job);
  if (!done)
    log.error("could not persist the end of the job", {{"app", job.app},
                                                       {"job_id", job.id},
                                                       {"state", std::string(to_string(job.state))},
                                                       {"error", done.error().message}});
  return done.has_value();
}

job_record job_context::new_job(const std::string& app, job_kind kind, job_trigger trigger) const {
  job_record job;
  job.id = random_hex_id(8);
  job.app = app;
  job.kind = kind;
  job.trigger = trigger;
  job.state = job_state::queued;
  job.max_attempts = static_cast<int>(options.max_attempts);
  job.created_at = clock.now();
  return job;
}

bool job_context::stored_here(const backup_record& b) const {
  return b.storage == backups.kind();
}

struct job_runner::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, job_context c) : ex(std::move(e)), ctx(c), wake(ex), idle(ex) {}

  asio::any_io_executor ex;
  job_context ctx;
  asio::steady_timer wake;
  asio::steady_timer idle;  // cancelled when the last running job is done (shutdown waits on it)
  bool stopping = false;
  std::map<std::string, std::shared_ptr<job_control>> running;  // job id -> control
  std::set<std::string> running_apps;
  std::vector<std::function<void(const job_record&)>> finished_hooks;
  std::mt19937_64 rng{std::random_device{}()};

  // A job may run to its end inside dispatch_once (fakes, or a job that never suspends) and
  // queue another one: the flag keeps that wake-up from being lost before the wait begins.
  bool wake_requested = false;
  void notify() {
    wake_requested = true;
    wake.cancel();
  }

  void finished(const job_record& job) {
    for (auto& hook : finished_hooks) hook(job);
  }

  // Starts what may start now; returns when the next delayed retry comes due.
  steady::time_point dispatch_once() {
    auto next_due = steady::now() + std::chrono::minutes(10);
    auto queued = ctx.db.jobs_in_state(job_state::queued);
    if (!queued) return steady::now() + std::chrono::seconds(5);
    const auto now = ctx.clock.now();
    for (auto& job : *queued) {
      if (running.size() >= ctx.options.max_concurrent_jobs) break;
      if (job.next_attempt_at && *job.next_attempt_at > now) {
        next_due = std::min(next_due, steady::now() + (*job.next_attempt_at - now));
        continue;
      }
      if (running_apps.count(job.app)) continue;
      launch(std::move(job));
    }
    return next_due;
  }

  asio::awaitable<void> dispatch_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      wake_requested = false;
      const auto next_due = dispatch_once();
      if (wake_requested) continue;
      wake.expires_at(next_due);
      co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void launch(job_record job) {
    auto control = std::make_shared<job_control>();
    running[job.id] = control;
    running_apps.insert(job.app);
    auto self = shared_from_this();
    auto task = [self, job = std::move(job), control]() mutable -> asio::awaitable<void> {
      co_await self->run(std::move(job), control);
    };
    asio::co_spawn(ex, std::move(task), asio::detached);
  }

  // Ends a job that waits (queued) or never started, on a cancel request.
  void end_cancelled(job_record& job) {
    job.state = job_state::cancelled;
    job.cancel_requested = true;
    job.next_attempt_at.reset();
    job.finished_at = ctx.clock.now();
    job.error_code = std::string(code_name(errc::cancelled));
    job.error_message = "cancelled on request";
    ctx.end(job);
    finished(job);
  }

  // Records the new attempt; false when the job may not run after all: a cancel requested
  // since it was picked ends it here.
  bool start_attempt(job_record& job) {
    job_record next = job;
    begin_attempt(next, ctx.clock.now());
    auto started = ctx.db.start_job_attempt(next);
    if (started || started.error().code == errc::store_error) {
      // A store that failed to record the start does not stop the job (its row lags behind).
      if (!started)
        ctx.log.error("could not persist the job's start", {{"app", job.app}, {"job_id", job.id}});
      job = std::move(next);
      ctx.job_changed(job);
      return true;
    }
    ctx.log.info("job not started",
                 {{"app", job.app}, {"job_id", job.id}, {"detail", started.error().message}});
    if (auto row = ctx.db.get_job(job.id);
        row && *row && (*row)->cancel_requested && !is_final((*row)->state))
      end_cancelled(**row);
    return false;
  }

  void release(const job_record& job) {
    running.erase(job.id);
    running_apps.erase(job.app);
    if (running.empty()) idle.cancel();
    notify();
  }

  asio::awaitable<void> run(job_record job, std::shared_ptr<job_control> control) {
    auto self = shared_from_this();
    if (!start_attempt(job)) {
      release(job);
      co_return;
    }
    ctx.stats.add("respaldo_jobs_started_total", 1, {{"kind", std::string(to_string(job.kind))}});
    ctx.log.info("job started", {{"app", job.app},
                                 {"job_id", job.id},
                                 {"kind", std::string(to_string(job.kind))},
                                 {"attempt", job.attempt}});
    if (job.kind == job_kind::backup && job.attempt == 1)
      ctx.publish(job_event(job, event_kind::backup_started));
    outcome<void> result;
    {
      const auto limit = ctx.options.job_deadline;
      const stop_after deadline(
          ex, limit, control,
          fail(errc::job_deadline_exceeded, "the job ran longer than --job-deadline (" +
                                                std::to_string(limit.count() / 1000) + "s)"));
      if (control->stopped())
        result = control->reason();  // cancelled before it could start
      else if (job.kind == job_kind::verify)
        result = co_await run_verify_job(ctx, job, *control);
      else
        result = co_await run_backup_job(ctx, job, *control);
    }
    finish(job, result, *control);
    release(job);
  }

  // A transient failure with attempts left: queued again after the policy's delay.
  void schedule_retry(job_record& job, const failure& f) {
    job.state = job_state::queued;
    job.phase = job_phase::none;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto delay = retry_delay(ctx.options.retry, job.attempt, unit(rng));
    job.next_attempt_at = ctx.clock.now() + std::chrono::ceil<std::chrono::seconds>(delay);
    ctx.log.warn("job will be retried", {{"app", job.app},
                                         {"job_id", job.id},
                                         {"error", job.error_code},
                                         {"detail", f.message},
                                         {"delay_ms", static_cast<std::int64_t>(delay.count())}});
  }

  // Records a failed attempt by its verdict; a finished job keeps the phase it reached.
  void record_failure(job_record& job, const failure& f) {
    job.error_code = std::string(code_name(f.code));
    job.error_message = f.message;
    if (f.code == errc::drive_quota_exceeded)
      ctx.stats.add("respaldo_drive_quota_errors_total", 1, {{"app", job.app}});
    switch (judge_attempt(f.code, job.attempt, job.max_attempts, stopping)) {
      case attempt_verdict::requeue:
        // Shut down mid-job: it runs again at the next start, without spending an attempt.
        job.state = job_state::queued;
        job.phase = job_phase::none;
        job.attempt -= 1;
        job.next_attempt_at = ctx.clock.now();
        return;
      case attempt_verdict::retry:
        schedule_retry(job, f);
        return;
      case attempt_verdict::cancelled:
        job.state = job_state::cancelled;
        break;
      case attempt_verdict::succeeded:
      case attempt_verdict::failed:
        job.state = job_state::failed;
        break;
    }
    job.finished_at = ctx.clock.now();
    ctx.stats.add(
        "respaldo_jobs_finished_total", 1,
        {{"kind", std::string(to_string(job.kind))}, {"state", std::string(to_string(job.state))}});
    ctx.log.warn("job ended", {{"app", job.app},
                               {"job_id", job.id},
                               {"state", std::string(to_string(job.state))},
                               {"error", job.error_code},
                               {"detail", f.message}});
  }

  void finish(job_record& job, outcome<void> result, const job_control& control) {
    if (control.cancel_request()) {
      // A cancel decides the outcome in any phase, even when the attempt completed meanwhile.
      result = *control.cancel_request();
      job.cancel_requested = true;
    } else if (!result && control.stopped()) {
      // A shutdown or the deadline decides it, whichever failure it caused on the way.
      result = control.reason();
    }
    if (result) {
      job.state = job_state::succeeded;
      job.finished_at = ctx.clock.now();
      ctx.stats.add("respaldo_jobs_finished_total", 1,
                    {{"kind", std::string(to_string(job.kind))}, {"state", "succeeded"}});
      ctx.log.info("job succeeded",
                   {{"app", job.app}, {"job_id", job.id}, {"bytes", job.bytes_done}});
    } else {
      record_failure(job, result.error());
    }
    ctx.end(job);
    if (is_final(job.state)) {
      record_verify_result(ctx, job);
      publish_outcome(ctx, job);
      finished(job);
    }
  }
};

job_runner::job_runner(asio::any_io_executor ex, store& db, token_seal& tokens, storage& backups,
                       contract_client& apps, const wall_clock& clock, runner_options options,
                       logger& log, metrics& stats)
    : impl_(std::make_shared<impl>(
          std::move(ex), job_context{db, tokens, backups, apps, clock, log, stats, options})) {
  stats.describe("respaldo_jobs_started_total", metrics::kind::counter, "Job attempts started.");
  stats.describe("respaldo_jobs_finished_total", metrics::kind::counter,
                 "Jobs that reached a final state.");
  stats.describe("respaldo_drive_quota_errors_total", metrics::kind::counter,
                 "Job attempts that failed on a Drive storage quota or limit.");
  stats.describe("respaldo_backups_pruned_total", metrics::kind::counter,
                 "Backups deleted by retention.");
  stats.describe("respaldo_backups_deleted_total", metrics::kind::counter,
                 "Backups deleted on request (DELETE /api/backups/{id}).");
  stats.describe("respaldo_backups_missing_total", metrics::kind::counter,
                 "Catalog entries found missing from storage.");
  stats.describe("respaldo_storage_unknown_objects_total", metrics::kind::counter,
                 "Objects found in an app's storage folder that no catalog entry names.");
  stats.describe("respaldo_jobs_running", metrics::kind::gauge, "Jobs running now.");
  std::weak_ptr<impl> weak = impl_;
  stats.on_render([weak](metrics& m) {
    if (auto p = weak.lock())
      m.set("respaldo_jobs_running", static_cast<double>(p->running.size()));
  });
}

job_runner::~job_runner() {
  impl_->stopping = true;
}

void job_runner::start() {
  for (const auto& job : recover_interrupted_jobs(impl_->ctx)) impl_->finished(job);
  auto self = impl_;
  auto loop = [self]() -> asio::awaitable<void> {
    co_await retry_pending_deletes(self->ctx);
    co_await self->dispatch_loop();
  };
  asio::co_spawn(impl_->ex, std::move(loop), asio::detached);
}

asio::awaitable<void> job_runner::shutdown(std::chrono::milliseconds grace) {
  auto self = impl_;
  self->stopping = true;
  self->wake.cancel();
  for (auto& [id, control] : self->running)
    control->stop(fail(errc::interrupted, "respaldo is shutting down"));
  // Woken early by the last job to finish; an expiry means the grace is over.
  self->idle.expires_after(grace);
  while (!self->running.empty()) {
    auto [ec] = co_await self->idle.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!ec) break;
  }
}

outcome<job_record> job_runner::enqueue(const app_record& app, job_kind kind, job_trigger trigger,
                                        const std::string& backup_id) {
  job_record job = impl_->ctx.new_job(app.name, kind, trigger);
  job.backup_id = backup_id;
  if (!impl_->ctx.db.insert_job(job)) return fail(errc::store_error, "the job could not be saved");
  impl_->ctx.job_changed(job);
  impl_->notify();
  return job;
}

outcome<job_record> job_runner::cancel(const std::string& job_id) {
  // The request is stored first and on its own, so that no later write of the job undoes it.
  auto requested = impl_->ctx.db.request_job_cancel(job_id);
  if (!requested) {
    const auto& e = requested.error();
    if (e.code == errc::not_found || e.code == errc::conflict) return e;
    return fail(errc::store_error, "the database could not record the cancel request");
  }
  job_record job = std::move(*requested);
  if (auto it = impl_->running.find(job_id); it != impl_->running.end()) {
    it->second->cancel(fail(errc::cancelled, "cancelled on request"));
    return job;  // the running coroutine records the final state
  }
  impl_->end_cancelled(job);
  return job;
}

asio::awaitable<outcome<void>> job_runner::remove_backup(const backup_record& b) {
  auto self = impl_;  // the runner may be destroyed while storage answers
  co_return co_await respaldo::remove_backup(self->ctx, b);
}

void job_runner::on_finished(std::function<void(const job_record&)> hook) {
  impl_->finished_hooks.push_back(std::move(hook));
}

void job_runner::on_job_change(std::function<void(const job_record&)> hook) {
  impl_->ctx.changed = std::move(hook);
}

void job_runner::set_event_sink(event_sink* sink) {
  impl_->ctx.events = sink;
}

void job_runner::set_hash_workers(hash_workers* workers) {
  impl_->ctx.hashing = workers;
}

std::size_t job_runner::running_jobs() const {
  return impl_->running.size();
}

}  // namespace respaldo
