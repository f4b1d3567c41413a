#include "respaldo/jobs/backup_job.hpp"

#include <boost/json.hpp>
#include <optional>

#include "respaldo/core/ids.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/jobs/control.hpp"
#include "respaldo/jobs/pipeline.hpp"
#include "respaldo/jobs/retention_executor.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

failure fail(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
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

// A previous process may have left an upload half done. When the source can be read again (a
// deferred export's download), read it from the start: the prefix storage already holds is hashed
// but not sent again. Otherwise export anew; storage continues its session only if the new export
// has the same size and SHA-256.
asio::awaitable<outcome<export_stream>> open_export(job_context& ctx, job_record& job,
                                                    const app_record& app, job_control& control,
                                                    const resume_record& prior) {
  job.phase = job_phase::exporting;
  ctx.save(job);
  if (!prior.download_url.empty()) {
    auto stream = co_await ctx.apps.reopen(app, prior.download_url, 0, control);
    if (stream && stream->offset == 0) {
      ctx.log.info("re-reading the export of an interrupted attempt",
                   {{"app", job.app}, {"job_id", job.id}});
      co_return stream;
    }
    if (control.stopped()) co_return control.reason();
    ctx.log.warn("the export of an interrupted attempt cannot be read again; exporting anew",
                 {{"app", job.app},
                  {"job_id", job.id},
                  {"detail", stream ? std::string("no byte 0") : stream.error().message}});
  }
  // Named here: no temporaries inside the co_await expression below.
  const std::function<void(const std::string&)> note_progress =
      [&ctx, id = job.id, app_name = job.app](const std::string& note) {
        ctx.log.info("export in progress", {{"app", app_name}, {"job_id", id}, {"note", note}});
      };
  co_return co_await ctx.apps.start(app, control, note_progress);
}

asio::awaitable<outcome<std::unique_ptr<storage_upload>>> begin_upload(job_context& ctx,
                                                                       const upload_request& req) {
  auto upload = co_await ctx.backups.begin(req);
  if (upload) co_return std::move(*upload);
  // A network failure on the way to storage (token endpoint, connect) is worth a retry.
  const auto& ec = upload.error().code;
  const auto code = ec.category() == error_category() ? ec
                    : is_transient(ec)                ? make_error_code(errc::storage_unavailable)
                                                      : make_error_code(errc::storage_error);
  co_return failure{code, "starting the upload failed: " + upload.error().message};
}

// Persists progress (what GET /api/jobs/{id} shows) on the first chunk, then every 64 MiB or
// --progress-interval, and every storage step for resumable backends.
class progress_saver {
 public:
  progress_saver(job_context& ctx, job_record& job) : ctx_(ctx), job_(job) {}
  void operator()(std::uint64_t received, bool resumable_step) {
    job_.bytes_done = received;
    const auto now = steady::now();
    if (resumable_step || !last_saved_at_ || received - last_saved_ >= 64ull * 1024 * 1024 ||
        now - *last_saved_at_ >= ctx_.options.progress_interval) {
      ctx_.save(job_);
      last_saved_ = received;
      last_saved_at_ = now;
    }
  }

 private:
  job_context& ctx_;
  job_record& job_;
  std::uint64_t last_saved_ = 0;
  std::optional<steady::time_point> last_saved_at_;
};

asio::awaitable<outcome<pipeline_result>> pipe_export(job_context& ctx, job_record& job,
                                                      job_control& control, export_stream& stream,
                                                      storage_upload& upload) {
  const stop_scope interrupt(control, [&stream, &upload] {
    stream.body->cancel();
    upload.cancel();
  });
  export_body& body = *stream.body;
  // What the connection said when the stream broke ("connection closed after N of M body bytes").
  std::string broke;
  fill_function fill =
      [&body,
       &broke](asio::mutable_buffer b) -> asio::awaitable<boost::system::result<std::size_t>> {
    auto n = co_await body.fill(b);
    if (n) co_return *n;
    broke = std::move(n.error().message);
    co_return n.error().code;
  };
  progress_saver saver(ctx, job);
  progress_function progress = [&](std::uint64_t received, bool advanced) {
    if (advanced) job.resume = format_resume({upload.resume_state(), stream.download_url});
    saver(received, advanced && !job.resume.empty());
  };
  const std::function<void()> finalizing = [&] {
    job.phase = job_phase::finalizing;
    ctx.save(job);
  };
  const pipeline_expectation expected{stream.size, stream.sha256};
  auto piped = co_await run_pipeline(fill, upload, expected, ctx.options.chunk_size, control,
                                     progress, finalizing, ctx.hashing);
  if (piped) co_return piped;
  // Only an interrupted attempt (shutdown) keeps its upload for the next process.
  if (piped.error().code != errc::interrupted) job.resume.clear();
  auto why = piped.error();
  if ((why.code == errc::app_export_failed || why.code == errc::app_timeout) && !broke.empty())
    why.message += " (" + broke + ")";
  co_return why;
}

}  // namespace

namespace {

upload_request make_upload_request(job_context& ctx, const job_record& job, const app_record& app,
                                   const export_stream& stream, const resume_record& prior) {
  upload_request req;
  req.folder = app.drive_folder_id;
  req.app = app.name;
  req.job_id = job.id;
  req.format = stream.format;
  req.created_at = ctx.clock.now();
  req.name = app.name + "-" + compact_utc_timestamp(req.created_at) + "." + stream.format;
  req.total_size = stream.size;
  req.sha256 = stream.sha256;
  req.resume_state = prior.storage;
  return req;
}

// A warning when the export took far longer than the app estimated.
void note_slow_export(job_record& job, const app_capabilities& caps, steady::time_point started) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(steady::now() - started).count();
  if (caps.est_seconds && static_cast<std::uint64_t>(seconds) > 2 * *caps.est_seconds + 60)
    job.warnings.push_back("the export took " + std::to_string(seconds) +
                           "s, far past the app's estimate of " +
                           std::to_string(*caps.est_seconds) + "s");
}

// Stored but not cataloged is removed again: storage holds nothing the catalog does not know.
asio::awaitable<outcome<backup_record>> catalog_backup(job_context& ctx, const job_record& job,
                                                       const app_record& app,
                                                       const upload_request& req,
                                                       const pipeline_result& piped) {
  backup_record b;
  b.id = random_hex_id(8);
  b.app = app.name;
  b.job_id = job.id;
  b.created_at = req.created_at;
  b.size = piped.size;
  b.sha256 = piped.sha256;
  b.md5 = piped.object.md5;
  b.format = req.format;
  b.storage = ctx.backups.kind();
  b.location = piped.object.location;
  b.name = piped.object.name.empty() ? req.name : piped.object.name;
  b.folder = app.drive_folder_id;
  // Storage kept it without a checksum to confirm it: not trusted until a verify job read it.
  if (piped.object.unconfirmed) b.status = backup_status::unverified;
  if (!ctx.db.insert_backup(b)) {
    (void)co_await ctx.backups.remove(b.location);
    co_return fail(errc::store_error, "the backup was stored but could not be cataloged");
  }
  co_return b;
}

// Queues the verify job of a backup storage could not confirm; it runs once this job is done.
void queue_verify(job_context& ctx, job_record& job, const backup_record& b) {
  job_record verify = ctx.new_job(b.app, job_kind::verify, job.trigger);
  verify.backup_id = b.id;
  if (!ctx.db.insert_job(verify)) {
    job.warnings.push_back("storage gave no checksum for backup " + b.id +
                           ", which is cataloged unverified; queueing its verify job failed: run "
                           "POST /api/apps/" +
                           b.app + "/verify");
    return;
  }
  job.warnings.push_back("storage gave no checksum for backup " + b.id +
                         ", which is cataloged unverified until verify job " + verify.id +
                         " has read it back");
  ctx.log.warn("backup cataloged unverified; verify job queued",
               {{"app", job.app}, {"job_id", job.id}, {"backup", b.id}, {"verify_job", verify.id}});
}

// An announced size above --max-backup-size fails the job before storage sees a byte.
outcome<void> within_size_bound(const job_context& ctx, const export_stream& stream) {
  const auto limit = ctx.options.max_backup_size;
  if (stream.size <= limit) return {};
  return fail(errc::backup_too_large,
              "the app announced X-Size " + std::to_string(stream.size) +
                  " bytes, above --max-backup-size (" + std::to_string(limit) +
                  " bytes); make the backup smaller or raise --max-backup-size");
}

outcome<app_record> backup_target(job_context& ctx, const job_record& job) {
  auto found = ctx.db.get_app(job.app);
  if (!found) return fail(errc::store_error, "the database could not be read");
  if (!*found) return fail(errc::not_found, "the app \"" + job.app + "\" was deleted");
  app_record app = **found;
  app.token = ctx.tokens.open(app.name, app.sealed_token).value_or("");
  if (app.token.empty())
    return fail(errc::app_unauthorized,
                "the app's token cannot be unsealed (was the secret key replaced?); set it "
                "again with PATCH /api/apps/" +
                    app.name);
  return app;
}

}  // namespace

asio::awaitable<outcome<void>> run_backup_job(job_context& ctx, job_record& job,
                                              job_control& control) {
  auto target = backup_target(ctx, job);
  if (!target) co_return target.error();
  const app_record& app = *target;
  auto caps = co_await ctx.apps.probe(app, &control);
  if (!caps) co_return caps.error();
  if (control.stopped()) co_return control.reason();

  const resume_record prior = parse_resume(job.resume);
  const auto export_started = steady::now();
  auto stream = co_await open_export(ctx, job, app, control, prior);
  if (!stream) co_return stream.error();
  job.bytes_total = stream->size;
  if (auto bounded = within_size_bound(ctx, *stream); !bounded) co_return bounded.error();
  job.phase = job_phase::uploading;
  ctx.save(job);

  const upload_request req = make_upload_request(ctx, job, app, *stream, prior);
  auto upload = co_await begin_upload(ctx, req);
  if (!upload) co_return upload.error();
  auto piped = co_await pipe_export(ctx, job, control, *stream, **upload);
  if (!piped) co_return piped.error();
  if (control.cancel_request()) {
    // Cancelled while storage published it: removed again, nothing is cataloged.
    (void)co_await ctx.backups.remove(piped->object.location);
    co_return *control.cancel_request();
  }
  note_slow_export(job, *caps, export_started);

  auto b = co_await catalog_backup(ctx, job, app, req, *piped);
  if (!b) co_return b.error();
  job.backup_id = b->id;
  job.bytes_done = b->size;
  job.resume.clear();
  if (b->status == backup_status::unverified) queue_verify(ctx, job, *b);
  // last_run_at / last_success_at are the scheduler's, written from the on_finished hook;
  // respaldo_backup_bytes_total is derived from the store (jobs/backup_metrics).

  job.phase = job_phase::pruning;
  ctx.save(job);
  // A cancelled job keeps its cataloged backup and leaves retention to the next backup.
  if (control.cancel_request()) co_return *control.cancel_request();
  co_await apply_retention(ctx, app, b->id);
  co_return outcome<void>{};
}

}  // namespace respaldo
