// Start-up recovery: jobs a previous process left `running` (it crashed or was killed) are
// resolved: cancelled when a cancel was requested, queued again while attempts remain, failed
// otherwise. Each keeps a warning that says which attempt was interrupted. Queued jobs with a
// cancel request (stored just before the stop) end cancelled instead of running again.
#pragma once

#include <vector>

#include "respaldo/jobs/job_context.hpp"

namespace respaldo {

// Returns the jobs it brought to a final state (for the runner's finished hooks).
std::vector<job_record> recover_interrupted_jobs(job_context& ctx);

}  // namespace respaldo
