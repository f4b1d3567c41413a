#include "respaldo/jobs/runner.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "respaldo/core/ids.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/jobs/control.hpp"
#include "respaldo/jobs/pipeline.hpp"
#include "respaldo/plan/catalog.hpp"
#include "respaldo/plan/retention.hpp"
#include "respaldo/storage/local/local_storage.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using clock = std::chrono::system_clock;

sys_seconds now_seconds() {
  return std::chrono::floor<std::chrono::seconds>(clock::now());
}

failure fail(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
}

std::string new_id() {
  return random_hex_id(8);  // 16 hex digits: unguessable job and backup ids
}

// What job.resume holds between processes: the storage's own resume state and, for deferred
// exports, where the finished export can be downloaded again.
struct resume_record {
  std::string storage;
  std::string download_url;
};

resume_record parse_resume(const std::string& text) {
  resume_record r;
  if (text.empty()) return r;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return r;
  const auto& o = v.as_object();
  if (auto it = o.find("storage"); it != o.end() && it->value().is_string())
    r.storage = std::string(it->value().as_string());
  if (auto it = o.find("download_url"); it != o.end() && it->value().is_string())
    r.download_url = std::string(it->value().as_string());
  return r;
}

std::string format_resume(const resume_record& r) {
  if (r.storage.empty()) return "";
  json::object o;
  o["storage"] = r.storage;
  if (!r.download_url.empty()) o["download_url"] = r.download_url;
  return json::serialize(o);
}

}  // namespace

std::chrono::milliseconds retry_delay(const runner_options& o, int attempt, double random01) {
  auto base = o.retry_base_delay.count();
  long double d = static_cast<long double>(base);
  for (int i = 1; i < attempt && d > 0 && d < o.retry_max_delay.count(); ++i) d *= 2;
  d = std::min<long double>(d, static_cast<long double>(o.retry_max_delay.count()));
  // Stray random values (and NaN) stay within the documented bounds.
  const double jitter = std::isnan(random01) ? 0.0 : std::clamp(random01, 0.0, 1.0);
  d += d * 0.25L * static_cast<long double>(jitter);
  return std::chrono::milliseconds(static_cast<std::int64_t>(d));
}

struct job_runner::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, store& d, storage& s, http_client& c, runner_options o, logger& l,
       metrics& m)
      : ex(std::move(e)),
        db(d),
        backups(s),
        apps(c, o.exporter),
        options(o),
        log(l),
        stats(m),
        wake(ex) {}

  asio::any_io_executor ex;
  store& db;
  storage& backups;
  exporter apps;
  runner_options options;
  logger& log;
  metrics& stats;
  asio::steady_timer wake;
  bool stopping = false;
  std::map<std::string, std::shared_ptr<job_control>> running;  // job id -> control
  std::set<std::string> running_apps;
  std::vector<std::function<void(const job_record&)>> finished_hooks;
  std::mt19937_64 rng{std::random_device{}()};

  void notify() { wake.cancel(); }

  void save(const job_record& job) {
    if (auto ec = db.update_job(job))
      log.error("could not persist job", {{"job", job.id}, {"error", std::string(code_name(ec))}});
  }

  void recover() {
    auto stuck = db.jobs_in_state(job_state::running);
    if (!stuck) return;
    for (auto& job : *stuck) {
      job.error_code = std::string(code_name(errc::interrupted));
      job.error_message = "respaldo stopped while this job was running";
      job.warnings.push_back("attempt " + std::to_string(job.attempt) +
                             " was interrupted: respaldo stopped while it ran");
      if (job.cancel_requested) {
        job.state = job_state::cancelled;
        job.error_code = std::string(code_name(errc::cancelled));
        job.error_message = "cancelled on request";
        job.finished_at = now_seconds();
      } else if (job.attempt < job.max_attempts) {
        job.state = job_state::queued;
        job.phase.clear();  // a finished job keeps its last phase; a waiting one has none
        job.next_attempt_at = now_seconds();
        log.warn("interrupted job queued again", {{"job", job.id}, {"app", job.app}});
      } else {
        job.state = job_state::failed;
        job.finished_at = now_seconds();
        log.warn("interrupted job failed", {{"job", job.id}, {"app", job.app}});
      }
      save(job);
      if (is_final(job.state))
        for (auto& hook : finished_hooks) hook(job);
    }
  }

  asio::awaitable<void> dispatch_loop() {
    auto self = shared_from_this();
    while (!stopping) {
      auto next_due = std::chrono::steady_clock::now() + std::chrono::minutes(10);
      auto queued = db.jobs_in_state(job_state::queued);
      if (queued) {
        const auto now = clock::now();
        for (auto& job : *queued) {
          if (running.size() >= options.max_concurrent_jobs) break;
          if (job.next_attempt_at && *job.next_attempt_at > now) {
            auto wait = *job.next_attempt_at - now;
            next_due =
                std::min(next_due,
                         std::chrono::steady_clock::now() +
                             std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait));
            continue;
          }
          if (running_apps.count(job.app)) continue;
          launch(std::move(job));
        }
      } else {
        next_due = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      }
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

  asio::awaitable<void> run(job_record job, std::shared_ptr<job_control> control) {
    auto self = shared_from_this();
    job.state = job_state::running;
    job.attempt += 1;
    job.started_at = now_seconds();
    job.finished_at.reset();
    job.next_attempt_at.reset();
    job.error_code.clear();
    job.error_message.clear();
    job.bytes_done = 0;
    job.phase = job.kind == "verify" ? "verifying" : "probing";
    save(job);
    stats.add("respaldo_jobs_started_total", 1, {{"kind", job.kind}});
    log.info("job started",
             {{"job", job.id}, {"app", job.app}, {"kind", job.kind}, {"attempt", job.attempt}});

    // Shared with the watchdog: it may start only after this coroutine has already finished
    // (a job that fails without ever suspending), and must neither wait on a destroyed timer nor
    // linger for the whole deadline then.
    struct watch {
      explicit watch(asio::any_io_executor e, std::chrono::milliseconds d)
          : timer(std::move(e), d) {}
      asio::steady_timer timer;
      bool job_done = false;
    };
    auto deadline = std::make_shared<watch>(ex, options.job_deadline);
    auto watchdog = [control, deadline, limit = options.job_deadline]() -> asio::awaitable<void> {
      if (deadline->job_done) co_return;
      auto [ec] = co_await deadline->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!ec && !deadline->job_done)
        control->stop(fail(errc::job_deadline_exceeded, "the job ran longer than --job-deadline (" +
                                                            std::to_string(limit.count() / 1000) +
                                                            "s)"));
    };
    asio::co_spawn(ex, std::move(watchdog), asio::detached);

    outcome<void> result;
    if (control->stopped())
      result = control->reason();  // cancelled before it could start
    else if (job.kind == "verify")
      result = co_await run_verify(job, *control);
    else
      result = co_await run_backup(job, *control);
    deadline->job_done = true;
    deadline->timer.cancel();
    finish(job, result, *control);
    running.erase(job.id);
    running_apps.erase(job.app);
    notify();
  }

  void finish(job_record& job, outcome<void> result, const job_control& control) {
    // A finished job keeps the phase it reached (where it failed); a queued one has none.
    if (!result && control.stopped()) {
      // A cancel or a shutdown decides the outcome, whichever failure it caused on the way.
      result = control.reason();
      if (result.error().code == errc::cancelled) job.cancel_requested = true;
    }
    if (result) {
      job.state = job_state::succeeded;
      job.finished_at = now_seconds();
      stats.add("respaldo_jobs_finished_total", 1, {{"kind", job.kind}, {"state", "succeeded"}});
      log.info("job succeeded", {{"job", job.id}, {"app", job.app}, {"bytes", job.bytes_done}});
    } else {
      const auto& f = result.error();
      job.error_code = std::string(code_name(f.code));
      job.error_message = f.message;
      if (f.code == errc::cancelled) {
        job.state = job_state::cancelled;
        job.finished_at = now_seconds();
      } else if (f.code == errc::interrupted && stopping) {
        // Shut down mid-job: it runs again at the next start, without spending an attempt.
        job.state = job_state::queued;
        job.phase.clear();
        job.attempt -= 1;
        job.next_attempt_at = now_seconds();
      } else if (is_transient(f.code) && job.attempt < job.max_attempts) {
        job.state = job_state::queued;
        job.phase.clear();
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        auto delay = retry_delay(options, job.attempt, unit(rng));
        job.next_attempt_at = std::chrono::ceil<std::chrono::seconds>(clock::now() + delay);
        log.warn("job will be retried", {{"job", job.id},
                                         {"app", job.app},
                                         {"error", job.error_code},
                                         {"detail", f.message},
                                         {"delay_ms", static_cast<std::int64_t>(delay.count())}});
      } else {
        job.state = job_state::failed;
        job.finished_at = now_seconds();
      }
      if (is_final(job.state)) {
        stats.add("respaldo_jobs_finished_total", 1,
                  {{"kind", job.kind}, {"state", std::string(to_string(job.state))}});
        log.warn("job ended", {{"job", job.id},
                               {"app", job.app},
                               {"state", std::string(to_string(job.state))},
                               {"error", job.error_code},
                               {"detail", f.message}});
      }
    }
    save(job);
    if (is_final(job.state))
      for (auto& hook : finished_hooks) hook(job);
  }

  // ---- backup --------------------------------------------------------------------------------

  asio::awaitable<outcome<void>> run_backup(job_record& job, job_control& control) {
    auto found = db.get_app(job.app);
    if (!found) co_return fail(errc::store_error, "the database could not be read");
    if (!*found) co_return fail(errc::not_found, "the app \"" + job.app + "\" was deleted");
    app_record app = **found;
    if (app.token.empty())
      co_return fail(errc::app_unauthorized,
                     "the app's token cannot be unsealed (was the secret key replaced?); set it "
                     "again with PATCH /api/apps/" +
                         app.name);

    auto caps = co_await apps.probe(app, &control);
    if (!caps) co_return caps.error();
    if (control.stopped()) co_return control.reason();

    // A previous process may have left an upload half done. When the source can be read again
    // (a deferred export's download), read it from the start: the prefix storage already holds
    // is hashed but not sent again. Otherwise export anew; storage continues its session only if
    // the new export has the same size and SHA-256.
    const resume_record prior = parse_resume(job.resume);
    const auto export_started = std::chrono::steady_clock::now();
    outcome<export_stream> stream = fail(errc::app_export_failed, "no export started");
    bool reread = false;
    if (!prior.download_url.empty()) {
      job.phase = "exporting";
      save(job);
      stream = co_await apps.reopen(app, prior.download_url, 0, control);
      reread = stream.has_value() && stream->offset == 0;
      if (reread)
        log.info("re-reading the export of an interrupted attempt", {{"job", job.id}});
      else if (control.stopped())
        co_return control.reason();
      else
        log.warn("the export of an interrupted attempt cannot be read again; exporting anew",
                 {{"job", job.id},
                  {"detail", stream ? std::string("no byte 0") : stream.error().message}});
    }
    if (!reread) {
      job.phase = "exporting";
      save(job);
      // std::function objects named here: no temporaries inside the co_await expressions below.
      const std::function<void(const std::string&)> note_progress =
          [this, id = job.id](const std::string& note) {
            log.info("export in progress", {{"job", id}, {"note", note}});
          };
      stream = co_await apps.start(app, control, note_progress);
    }
    if (!stream) co_return stream.error();
    job.bytes_total = stream->size;
    job.phase = "uploading";
    save(job);

    upload_request req;
    req.folder = app.drive_folder_id;
    req.app = app.name;
    req.job_id = job.id;
    req.format = stream->format;
    req.created_at = now_seconds();
    req.name = app.name + "-" + compact_utc_timestamp(req.created_at) + "." + stream->format;
    req.total_size = stream->size;
    req.sha256 = stream->sha256;
    req.resume_state = prior.storage;
    auto upload = co_await backups.begin(req);
    if (!upload) {
      // A network failure on the way to storage (token endpoint, connect) is worth a retry.
      const auto& ec = upload.error().code;
      const auto code = ec.category() == error_category() ? ec
                        : is_transient(ec) ? make_error_code(errc::storage_unavailable)
                                           : make_error_code(errc::storage_error);
      co_return failure{code, "starting the upload failed: " + upload.error().message};
    }

    storage_upload* storing = upload->get();
    control.on_stop([storing] { storing->cancel(); });
    http_connection* conn = stream->connection.get();
    control.attach(conn);
    fill_function fill = [conn](asio::mutable_buffer b) { return conn->read_body_fill(b); };
    std::uint64_t last_saved = 0;
    std::optional<std::chrono::steady_clock::time_point> last_saved_at;
    progress_function progress = [&](std::uint64_t received, bool advanced) {
      job.bytes_done = received;
      if (advanced) job.resume = format_resume({(*upload)->resume_state(), stream->download_url});
      // Persist progress (what GET /api/jobs/{id} shows) on the first chunk, then every 64 MiB or
      // half second, and every storage step for resumable backends.
      const auto now = std::chrono::steady_clock::now();
      if ((advanced && !job.resume.empty()) || !last_saved_at ||
          received - last_saved >= 64ull * 1024 * 1024 ||
          now - *last_saved_at >= std::chrono::milliseconds(500)) {
        save(job);
        last_saved = received;
        last_saved_at = now;
      }
    };
    const std::function<void()> finalizing = [&] {
      job.phase = "finalizing";
      save(job);
    };
    const pipeline_expectation expected{stream->size, stream->sha256};
    auto piped = co_await run_pipeline(fill, **upload, expected, options.chunk_size, control,
                                       progress, finalizing);
    control.detach_connection();
    control.on_stop({});
    if (!piped) {
      // Only an interrupted attempt (shutdown) keeps its upload for the next process.
      if (piped.error().code != errc::interrupted) job.resume.clear();
      auto why = piped.error();
      // The connection knows what broke ("connection closed after N of M body bytes").
      const auto& detail = stream->connection->last_error_detail();
      if ((why.code == errc::app_export_failed || why.code == errc::app_timeout) && !detail.empty())
        why.message += " (" + detail + ")";
      co_return why;
    }
    const auto export_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::steady_clock::now() - export_started)
                                    .count();
    if (caps->est_seconds &&
        static_cast<std::uint64_t>(export_seconds) > 2 * *caps->est_seconds + 60)
      job.warnings.push_back("the export took " + std::to_string(export_seconds) +
                             "s, far past the app's estimate of " +
                             std::to_string(*caps->est_seconds) + "s");

    backup_record b;
    b.id = new_id();
    b.app = app.name;
    b.job_id = job.id;
    b.created_at = req.created_at;
    b.size = piped->size;
    b.sha256 = piped->sha256;
    b.md5 = piped->object.md5;
    b.format = stream->format;
    b.storage = std::string(backups.kind());
    b.location = piped->object.location;
    b.name = piped->object.name.empty() ? req.name : piped->object.name;
    b.folder = app.drive_folder_id;
    if (auto ec = db.insert_backup(b)) {
      // Stored but not cataloged: remove it so storage holds nothing the catalog does not know.
      (void)co_await backups.remove(b.location);
      co_return fail(errc::store_error, "the backup was stored but could not be cataloged");
    }
    job.backup_id = b.id;
    job.bytes_done = b.size;
    job.resume.clear();
    // last_run_at / last_success_at are the scheduler's, written from the on_finished hook.
    stats.add("respaldo_backup_bytes_total", static_cast<double>(b.size), {{"storage", b.storage}});

    job.phase = "pruning";
    save(job);
    co_await prune(app, b.id);
    co_return outcome<void>{};
  }

  // ---- retention -----------------------------------------------------------------------------

  // `fresh` is the backup this job just made: whatever the plan says, it is never deleted here.
  asio::awaitable<void> prune(const app_record& app, const std::string& fresh) {
    auto all = all_backups(db, app.name);
    if (!all) co_return;
    // Deletions that failed earlier go first: they are planned already.
    for (const auto& b : *all)
      if (b.status == "deleting" && b.storage == backups.kind()) co_await delete_backup(b);
    const std::string zone = app.timezone.empty() ? options.default_timezone : app.timezone;
    const auto plan = plan_catalog_retention(*all, app.retention, find_time_zone(zone));
    std::map<std::string, const backup_record*> by_id;
    for (const auto& b : *all) by_id[b.id] = &b;
    for (const auto& d : plan) {
      if (d.keep) continue;
      const backup_record& b = *by_id.at(d.id);
      if (b.id == fresh || b.storage != backups.kind()) continue;
      co_await delete_backup(b);
    }
    co_await reconcile(app, fresh);
  }

  // Compares the catalog with what storage lists for the app's folder: an entry whose object is
  // gone is flagged "missing" (and reported), never dropped from the catalog.
  asio::awaitable<void> reconcile(const app_record& app, const std::string& fresh) {
    auto listed = co_await backups.list(app.drive_folder_id, app.name);
    if (!listed) {
      log.warn("could not list storage to reconcile the catalog",
               {{"app", app.name}, {"detail", listed.error().message}});
      co_return;
    }
    std::set<std::string> present;
    for (const auto& o : *listed) present.insert(o.location);
    auto all = all_backups(db, app.name);
    if (!all) co_return;
    // Objects of this app that no catalog entry names (a crash between publishing and
    // cataloging): reported for an operator to inspect, never deleted automatically.
    std::set<std::string> cataloged;
    for (const auto& b : *all) cataloged.insert(b.location);
    for (const auto& o : *listed) {
      if (cataloged.count(o.location)) continue;
      stats.add("respaldo_storage_unknown_objects_total", 1,
                {{"storage", std::string(backups.kind())}});
      log.warn("object in storage is not in the catalog",
               {{"app", app.name}, {"location", o.location}, {"name", o.name}});
    }
    for (auto b : *all) {
      if (b.id == fresh || b.status != "available" || b.storage != backups.kind() ||
          b.folder != app.drive_folder_id || present.count(b.location))
        continue;
      b.status = "missing";
      (void)db.update_backup(b);
      stats.add("respaldo_backups_missing_total", 1, {{"storage", b.storage}});
      log.warn("backup missing from storage", {{"backup", b.id}, {"app", b.app}, {"name", b.name}});
    }
  }

  // Storage first, then the catalog; a failed delete stays cataloged as "deleting" and is retried.
  asio::awaitable<void> delete_backup(const backup_record& doomed) {
    backup_record b = doomed;
    auto removed = co_await backups.remove(b.location);
    if (!removed) {
      b.status = "deleting";
      b.delete_attempts += 1;
      b.last_error = removed.error().message;
      (void)db.update_backup(b);
      log.warn("retention delete failed; will retry",
               {{"backup", b.id}, {"app", b.app}, {"detail", b.last_error}});
      co_return;
    }
    (void)db.delete_backup(b.id);
    stats.add("respaldo_backups_pruned_total", 1, {{"storage", b.storage}});
    log.info("backup pruned", {{"backup", b.id}, {"app", b.app}, {"name", b.name}});
  }

  asio::awaitable<void> retry_pending_deletes() {
    auto pending = db.backups_with_status("deleting");
    if (!pending) co_return;
    for (auto& b : *pending)
      if (b.storage == backups.kind()) co_await delete_backup(b);
  }

  // ---- restore verification ------------------------------------------------------------------

  asio::awaitable<outcome<void>> run_verify(job_record& job, job_control& control) {
    auto latest = db.list_backups(job.app, 50, std::nullopt);
    if (!latest) co_return fail(errc::store_error, "the database could not be read");
    const backup_record* target = nullptr;
    for (const auto& b : *latest)
      if (b.status == "available" || b.status == "missing") {
        target = &b;
        break;
      }
    if (!target)
      co_return fail(errc::verify_missing, "there is no backup of \"" + job.app + "\" to verify");
    backup_record b = *target;
    job.bytes_total = b.size;
    job.backup_id = b.id;
    save(job);
    if (b.storage != backups.kind())
      co_return fail(errc::verify_missing, "backup " + b.id + " is in " + b.storage +
                                               " storage, which this server is not configured for");
    // Cancelling the job interrupts the download's read in flight.
    asio::cancellation_signal stop_download;
    control.on_stop([&stop_download] { stop_download.emit(asio::cancellation_type::terminal); });
    struct on_stop_reset {
      job_control& c;
      ~on_stop_reset() { c.on_stop(nullptr); }
    } reset{control};
    auto download = co_await backups.open(b.location, stop_download.slot());
    if (!download) {
      if (download.error().code == errc::not_found) {
        b.status = "missing";
        (void)db.update_backup(b);
        co_return fail(errc::verify_missing,
                       "backup " + b.id + " (" + b.name + ") is missing from storage");
      }
      co_return fail(errc::storage_error,
                     "opening backup " + b.id + " failed: " + download.error().message);
    }
    std::vector<char> buf(options.chunk_size);
    sha256 hash;
    std::uint64_t total = 0;
    std::uint64_t last_saved = 0;
    while (true) {
      if (control.stopped()) co_return control.reason();
      auto n = co_await (*download)->read_some(asio::buffer(buf));
      if (!n && control.stopped()) co_return control.reason();
      if (!n)
        co_return fail(errc::storage_error,
                       "reading backup " + b.id + " failed: " + n.error().code.message());
      if (*n == 0) break;
      hash.update(buf.data(), *n);
      total += *n;
      job.bytes_done = total;
      // Progress shows in GET /api/jobs/{id} while a large backup is read back.
      if (total - last_saved >= 64ull * 1024 * 1024) {
        save(job);
        last_saved = total;
      }
    }
    const auto digest = hash.finish_hex();
    if (total != b.size || digest != b.sha256)
      co_return fail(errc::verify_mismatch,
                     "backup " + b.id + " no longer matches its catalog entry: " +
                         std::to_string(total) + " bytes with SHA-256 " + digest + ", expected " +
                         std::to_string(b.size) + " bytes with " + b.sha256);
    b.verified_at = now_seconds();
    b.status = "available";
    (void)db.update_backup(b);
    co_return outcome<void>{};
  }
};

job_runner::job_runner(asio::any_io_executor ex, store& db, storage& backups, http_client& client,
                       runner_options options, logger& log, metrics& stats)
    : impl_(std::make_shared<impl>(std::move(ex), db, backups, client, options, log, stats)) {
  stats.describe("respaldo_jobs_started_total", metrics::kind::counter, "Job attempts started.");
  stats.describe("respaldo_jobs_finished_total", metrics::kind::counter,
                 "Jobs that reached a final state.");
  stats.describe("respaldo_backup_bytes_total", metrics::kind::counter,
                 "Bytes of verified backups stored.");
  stats.describe("respaldo_backups_pruned_total", metrics::kind::counter,
                 "Backups deleted by retention.");
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
  impl_->recover();
  auto self = impl_;
  auto loop = [self]() -> asio::awaitable<void> {
    co_await self->retry_pending_deletes();
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
  asio::steady_timer tick(self->ex);
  const auto until = std::chrono::steady_clock::now() + grace;
  while (!self->running.empty() && std::chrono::steady_clock::now() < until) {
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

outcome<job_record> job_runner::enqueue(const app_record& app, std::string_view kind,
                                        std::string_view trigger) {
  job_record job;
  job.id = new_id();
  job.app = app.name;
  job.kind = std::string(kind);
  job.trigger = std::string(trigger);
  job.state = job_state::queued;
  job.max_attempts = static_cast<int>(impl_->options.max_attempts);
  job.created_at = now_seconds();
  if (auto ec = impl_->db.insert_job(job))
    return fail(errc::store_error, "the job could not be saved");
  impl_->notify();
  return job;
}

outcome<job_record> job_runner::cancel(const std::string& job_id) {
  auto found = impl_->db.get_job(job_id);
  if (!found) return fail(errc::store_error, "the database could not be read");
  if (!*found) return fail(errc::not_found, "no job " + job_id);
  job_record job = **found;
  if (is_final(job.state))
    return fail(errc::conflict, "job " + job_id + " already " + std::string(to_string(job.state)));
  job.cancel_requested = true;
  if (auto it = impl_->running.find(job_id); it != impl_->running.end()) {
    impl_->save(job);
    it->second->stop(fail(errc::cancelled, "cancelled on request"));
    return job;  // the running coroutine records the final state
  }
  job.state = job_state::cancelled;
  job.next_attempt_at.reset();
  job.finished_at = now_seconds();
  job.error_code = std::string(code_name(errc::cancelled));
  job.error_message = "cancelled on request";
  impl_->save(job);
  for (auto& hook : impl_->finished_hooks) hook(job);
  return job;
}

void job_runner::on_finished(std::function<void(const job_record&)> hook) {
  impl_->finished_hooks.push_back(std::move(hook));
}

std::size_t job_runner::running_jobs() const {
  return impl_->running.size();
}

}  // namespace respaldo
