#include "respaldo/jobs/recovery.hpp"

#include "respaldo/core/log.hpp"

namespace respaldo {

std::vector<job_record> recover_interrupted_jobs(job_context& ctx) {
  std::vector<job_record> finished;
  auto stuck = ctx.db.jobs_in_state(job_state::running);
  if (!stuck) return finished;
  for (auto& job : *stuck) {
    job.error_code = std::string(code_name(errc::interrupted));
    job.error_message = "respaldo stopped while this job was running";
    job.warnings.push_back("attempt " + std::to_string(job.attempt) +
                           " was interrupted: respaldo stopped while it ran");
    if (job.cancel_requested) {
      job.state = job_state::cancelled;
      job.error_code = std::string(code_name(errc::cancelled));
      job.error_message = "cancelled on request";
      job.finished_at = ctx.clock.now();
    } else if (job.attempt < job.max_attempts) {
      job.state = job_state::queued;
      job.phase = job_phase::none;  // a finished job keeps its last phase; a waiting one has none
      job.next_attempt_at = ctx.clock.now();
      ctx.log.warn("interrupted job queued again", {{"job", job.id}, {"app", job.app}});
    } else {
      job.state = job_state::failed;
      job.finished_at = ctx.clock.now();
      ctx.log.warn("interrupted job failed", {{"job", job.id}, {"app", job.app}});
    }
    ctx.save(job);
    if (is_final(job.state)) finished.push_back(job);
  }
  return finished;
}

}  // namespace respaldo
