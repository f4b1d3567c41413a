// Executes an app's retention plan (plan/catalog) against storage and the catalog: storage first,
// then the catalog; a failed delete stays cataloged as "deleting" and is retried. Afterwards the
// catalog is reconciled with what storage lists: an entry whose object is gone is flagged
// "missing", never dropped, and objects no entry names are reported, never deleted.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "respaldo/core/error.hpp"
#include "respaldo/jobs/job_context.hpp"

namespace respaldo {

// `fresh` is the backup the job just made: whatever the plan says, it is never deleted here.
boost::asio::awaitable<void> apply_retention(job_context& ctx, const app_record& app,
                                             const std::string& fresh);

// Deletes one backup on request: storage first, then the catalog. When storage fails, the entry
// stays as it was and the failure (storage_error, with the backend's reason) is returned.
boost::asio::awaitable<outcome<void>> remove_backup(job_context& ctx, const backup_record& b);

// Deletes that failed earlier (status "deleting"), retried at start-up.
boost::asio::awaitable<void> retry_pending_deletes(job_context& ctx);

}  // namespace respaldo
