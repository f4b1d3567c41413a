#include "respaldo/jobs/verify_job.hpp"

#include <vector>

#include "respaldo/core/log.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/jobs/control.hpp"
#include "respaldo/jobs/hash_workers.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;

failure fail(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
}

// The backup the job names (queued for an unverified backup, or chosen by an earlier attempt),
// else the newest one that may still be read: any but one being deleted (a missing one may be
// back, a corrupt one repaired or gone).
outcome<backup_record> verify_target(job_context& ctx, const job_record& job) {
  if (!job.backup_id.empty()) {
    auto named = ctx.db.get_backup(job.backup_id);
    if (!named) return fail(errc::store_error, "the database could not be read");
    if (!*named)
      return fail(errc::verify_missing,
                  "backup " + job.backup_id + " is no longer in the catalog; nothing to verify");
    return **named;
  }
  auto latest = ctx.db.list_backups(job.app, 50, std::nullopt);
  if (!latest) return fail(errc::store_error, "the database could not be read");
  for (const auto& b : *latest)
    if (is_verifiable(b.status)) return b;
  return fail(errc::verify_missing, "there is no backup of \"" + job.app + "\" to verify");
}

// A read-back that differs from the catalog: the backup is kept as corrupt, with what was found.
failure mark_corrupt(job_context& ctx, backup_record& b, const std::uint64_t size,
                     const std::string& sha256) {
  b.status = backup_status::corrupt;
  b.mismatch = backup_mismatch{ctx.clock.now(), size, sha256};
  (void)ctx.db.update_backup(b);
  ctx.log.error("backup failed its verification; marked corrupt",
                {{"backup", b.id}, {"app", b.app}, {"sha256", b.sha256}, {"found_sha256", sha256}});
  return fail(errc::verify_mismatch, "backup " + b.id +
                                         " no longer matches its catalog entry and is now marked "
                                         "corrupt: " +
                                         std::to_string(size) + " bytes with SHA-256 " + sha256 +
                                         ", expected " + std::to_string(b.size) + " bytes with " +
                                         b.sha256);
}

verify_result result_of(const job_record& job) {
  if (job.state == job_state::succeeded) return verify_result::passed;
  if (job.error_code == code_name(errc::verify_mismatch)) return verify_result::corrupt;
  if (job.error_code == code_name(errc::verify_missing)) return verify_result::missing;
  return verify_result::failed;
}

struct read_back {
  std::uint64_t size = 0;
  std::string sha256;
};

// Hashes the whole download; progress shows in GET /api/jobs/{id} every 64 MiB.
asio::awaitable<outcome<read_back>> hash_download(job_context& ctx, job_record& job,
                                                  job_control& control, storage_download& download,
                                                  const backup_record& b) {
  std::vector<char> buf(ctx.options.chunk_size);
  sha256 hash;
  std::uint64_t total = 0;
  std::uint64_t last_saved = 0;
  while (true) {
    if (control.stopped()) co_return control.reason();
    auto n = co_await download.read_some(asio::buffer(buf));
    if (control.stopped()) co_return control.reason();
    if (!n)
      co_return fail(errc::storage_error,
                     "reading backup " + b.id + " failed: " + n.error().code.message());
    if (*n == 0) break;
    if (ctx.hashing)
      co_await ctx.hashing->update(hash, nullptr, asio::buffer(buf.data(), *n));
    else
      hash.update(buf.data(), *n);
    total += *n;
    job.bytes_done = total;
    if (total - last_saved >= 64ull * 1024 * 1024) {
      ctx.save(job);
      last_saved = total;
    }
  }
  co_return read_back{total, hash.finish_hex()};
}

}  // namespace

asio::awaitable<outcome<void>> run_verify_job(job_context& ctx, job_record& job,
                                              job_control& control) {
  auto target = verify_target(ctx, job);
  if (!target) co_return target.error();
  backup_record b = *target;
  job.bytes_total = b.size;
  job.backup_id = b.id;
  ctx.save(job);
  if (!ctx.stored_here(b))
    co_return fail(errc::verify_missing, "backup " + b.id + " is in " +
                                             std::string(to_string(b.storage)) +
                                             " storage, which this server is not configured for");
  // Stopping the job emits the signal the download listens on: its read in flight ends at once.
  auto download = co_await ctx.backups.open(b.location, control.slot());
  if (!download) {
    if (download.error().code == errc::not_found) {
      b.status = backup_status::missing;
      (void)ctx.db.update_backup(b);
      co_return fail(errc::verify_missing,
                     "backup " + b.id + " (" + b.name + ") is missing from storage");
    }
    co_return fail(errc::storage_error,
                   "opening backup " + b.id + " failed: " + download.error().message);
  }
  auto read = co_await hash_download(ctx, job, control, **download, b);
  if (!read) co_return read.error();
  if (read->size != b.size || read->sha256 != b.sha256)
    co_return mark_corrupt(ctx, b, read->size, read->sha256);
  b.verified_at = ctx.clock.now();
  b.status = backup_status::available;
  b.mismatch.reset();
  (void)ctx.db.update_backup(b);
  co_return outcome<void>{};
}

bool is_verifiable(backup_status s) {
  return s != backup_status::deleting;
}

void record_verify_result(job_context& ctx, const job_record& job) {
  if (job.kind != job_kind::verify || !is_final(job.state) || job.state == job_state::cancelled)
    return;
  auto found = ctx.db.get_app(job.app);
  if (!found || !*found) return;  // the app was deleted meanwhile
  app_record app = **found;
  app.last_verify =
      app_verify{result_of(job), job.finished_at.value_or(ctx.clock.now()), job.id, job.backup_id};
  if (auto saved = ctx.db.update_app(app); !saved)
    ctx.log.error("could not record the verify result", {{"app", job.app}, {"job_id", job.id}});
}

}  // namespace respaldo
