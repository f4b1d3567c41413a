// A backup job: probes the app, opens its export (or re-reads the export of an interrupted
// attempt), pipes it through the hash-and-forward pipeline into storage, catalogs the verified
// backup and applies the app's retention. Nothing is cataloged unless size and SHA-256 match.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "respaldo/core/error.hpp"
#include "respaldo/jobs/job_context.hpp"

namespace respaldo {

class job_control;

boost::asio::awaitable<outcome<void>> run_backup_job(job_context& ctx, job_record& job,
                                                     job_control& control);

}  // namespace respaldo
