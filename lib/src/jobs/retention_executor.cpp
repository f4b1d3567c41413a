#include "respaldo/jobs/retention_executor.hpp"

#include <map>
#include <set>

#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/plan/catalog.hpp"
#include "respaldo/plan/retention.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;

// Storage first, then the catalog; a failed delete stays cataloged as "deleting" and is retried.
// `job_id` is the job whose retention pass deletes it ("" for the start-up retry).
asio::awaitable<void> delete_backup(job_context& ctx, const backup_record& doomed,
                                    const std::string& job_id) {
  backup_record b = doomed;
  auto removed = co_await ctx.backups.remove(b.location);
  if (!removed) {
    b.status = backup_status::deleting;
    b.delete_attempts += 1;
    b.last_error = removed.error().message;
    (void)ctx.db.update_backup(b);
    ctx.log.warn("retention delete failed; will retry",
                 {{"app", b.app}, {"job_id", job_id}, {"backup", b.id}, {"detail", b.last_error}});
    event_record e;
    e.kind = event_kind::retention_delete_failed;
    e.app = b.app;
    e.job_id = b.job_id;
    e.backup_id = b.id;
    e.error_code = std::string(code_name(removed.error().code));
    e.error_message = b.last_error;
    e.at = ctx.clock.now();
    ctx.publish(e);
    co_return;
  }
  (void)ctx.db.delete_backup(b.id);
  ctx.stats.add("respaldo_backups_pruned_total", 1,
                {{"storage", std::string(to_string(b.storage))}});
  ctx.log.info("backup pruned",
               {{"app", b.app}, {"job_id", job_id}, {"backup", b.id}, {"name", b.name}});
}

// Objects of this app that no catalog entry names (a crash between publishing and cataloging):
// reported for an operator to inspect, never deleted automatically.
void report_unknown_objects(job_context& ctx, const app_record& app, const std::string& job_id,
                            const std::vector<backup_record>& all,
                            const std::vector<stored_object>& listed) {
  std::set<std::string> cataloged;
  for (const auto& b : all) cataloged.insert(b.location);
  for (const auto& o : listed) {
    if (cataloged.count(o.location)) continue;
    ctx.stats.add("respaldo_storage_unknown_objects_total", 1,
                  {{"storage", std::string(to_string(ctx.backups.kind()))}});
    ctx.log.warn(
        "object in storage is not in the catalog",
        {{"app", app.name}, {"job_id", job_id}, {"location", o.location}, {"name", o.name}});
  }
}

// Compares the catalog with what storage lists for the app's folder.
asio::awaitable<void> reconcile(job_context& ctx, const app_record& app, const std::string& fresh,
                                const std::string& job_id) {
  auto listed = co_await ctx.backups.list(app.drive_folder_id, app.name);
  if (!listed) {
    ctx.log.warn("could not list storage to reconcile the catalog",
                 {{"app", app.name}, {"job_id", job_id}, {"detail", listed.error().message}});
    co_return;
  }
  std::set<std::string> present;
  for (const auto& o : *listed) present.insert(o.location);
  auto all = all_backups(ctx.db, app.name);
  if (!all) co_return;
  report_unknown_objects(ctx, app, job_id, *all, *listed);
  for (auto b : *all) {
    const bool watched =
        b.status == backup_status::available || b.status == backup_status::unverified;
    if (b.id == fresh || !watched || !ctx.stored_here(b) || b.folder != app.drive_folder_id ||
        present.count(b.location))
      continue;
    b.status = backup_status::missing;
    (void)ctx.db.update_backup(b);
    ctx.stats.add("respaldo_backups_missing_total", 1,
                  {{"storage", std::string(to_string(b.storage))}});
    ctx.log.warn("backup missing from storage",
                 {{"app", b.app}, {"job_id", job_id}, {"backup", b.id}, {"name", b.name}});
  }
}

}  // namespace

asio::awaitable<void> apply_retention(job_context& ctx, const app_record& app,
                                      const std::string& fresh) {
  auto all = all_backups(ctx.db, app.name);
  if (!all) co_return;
  // The fresh backup was made by the job running this pass: its log lines name that job.
  std::string job_id;
  for (const auto& b : *all)
    if (b.id == fresh) job_id = b.job_id;
  // Deletions that failed earlier go first: they are planned already.
  for (const auto& b : *all)
    if (b.status == backup_status::deleting && ctx.stored_here(b))
      co_await delete_backup(ctx, b, job_id);
  const std::string zone = app.timezone.empty() ? ctx.options.default_timezone : app.timezone;
  const auto plan = plan_catalog_retention(*all, app.retention, find_time_zone(zone));
  std::map<std::string, const backup_record*> by_id;
  for (const auto& b : *all) by_id[b.id] = &b;
  for (const auto& d : plan) {
    if (d.keep) continue;
    const backup_record& b = *by_id.at(d.id);
    if (b.id == fresh || !ctx.stored_here(b)) continue;
    co_await delete_backup(ctx, b, job_id);
  }
  co_await reconcile(ctx, app, fresh, job_id);
}

asio::awaitable<outcome<void>> remove_backup(job_context& ctx, const backup_record& b) {
  auto removed = co_await ctx.backups.remove(b.location);
  if (!removed)
    co_return failure{
        make_error_code(errc::storage_error),
        "removing backup " + b.id + " from storage failed: " + removed.error().message};
  if (auto gone = ctx.db.delete_backup(b.id); !gone && gone.error().code != errc::not_found)
    co_return gone.error();
  ctx.stats.add("respaldo_backups_deleted_total", 1,
                {{"storage", std::string(to_string(b.storage))}});
  co_return outcome<void>{};
}

asio::awaitable<void> retry_pending_deletes(job_context& ctx) {
  auto pending = ctx.db.backups_with_status(backup_status::deleting);
  if (!pending) co_return;
  const std::string no_job;  // at start-up, outside any job
  for (auto& b : *pending)
    if (ctx.stored_here(b)) co_await delete_backup(ctx, b, no_job);
}

}  // namespace respaldo
