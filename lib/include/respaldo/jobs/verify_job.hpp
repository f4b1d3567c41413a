// A verify job: reads a backup back from storage and compares its size and SHA-256 with the
// catalog: the one the job names (job.backup_id, e.g. a backup storage could not confirm), else
// the app's newest one not being deleted. A match stamps verified_at and makes it
// "available"; an object gone from storage marks the entry "missing"; a difference marks it
// "corrupt" (with the size and SHA-256 read back and the time) and fails with verify_mismatch.
// Stopping the job cuts the download.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "respaldo/core/error.hpp"
#include "respaldo/jobs/job_context.hpp"

namespace respaldo {

class job_control;

boost::asio::awaitable<outcome<void>> run_verify_job(job_context& ctx, job_record& job,
                                                     job_control& control);

// Whether a manual verification may pick a backup of this status.
bool is_verifiable(backup_status s);

// Writes the app's last_verify from a verify job that reached a final state (not a cancelled
// one: that concluded nothing).
void record_verify_result(job_context& ctx, const job_record& job);

}  // namespace respaldo
