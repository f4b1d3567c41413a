// A verify job: reads the app's newest backup back from storage and compares its size and
// SHA-256 with the catalog. A match stamps verified_at; an object gone from storage marks the
// entry "missing"; a difference fails with verify_mismatch. Stopping the job cuts the download.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "respaldo/core/error.hpp"
#include "respaldo/jobs/job_context.hpp"

namespace respaldo {

class job_control;

boost::asio::awaitable<outcome<void>> run_verify_job(job_context& ctx, job_record& job,
                                                     job_control& control);

}  // namespace respaldo
