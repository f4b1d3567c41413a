#include "respaldo/jobs/recovery.hpp"

#include "respaldo/core/log.hpp"

namespace respaldo {
namespace {

void mark_cancelled(job_context& ctx, job_record& job) {
  job.state = job_state::cancelled;
  job.next_attempt_at.reset();
  job.error_code = std::string(code_name(errc::cancelled));
  job.error_message = "cancelled on request";
  job.finished_at = ctx.clock.now();
  ctx.log.info("cancel requested before the stop honoured", {{"app", job.app}, {"job_id", job.id}});
}

}  // namespace

std::vector<job_record> recover_interrupted_jobs(job_context& ctx) {
  std::vector<job_record> finished;
  // A cancel requested and stored just before a crash (or a shutdown that queued the job again)
  // is honoured now instead of running the job again.
  if (auto waiting = ctx.db.jobs_in_state(job_state::queued)) {
    for (auto& job : *waiting) {
      if (!job.cancel_requested) continue;
      mark_cancelled(ctx, job);
      if (ctx.end(job)) finished.push_back(job);
    }
  }
  auto stuck = ctx.db.jobs_in_state(job_state::running);
  if (!stuck) return finished;
  for (auto& job : *stuck) {
    job.error_code = std::string(code_name(errc::interrupted));
    job.error_message = "respaldo stopped while this job was running";
    job.warnings.push_back("attempt " + std::to_string(job.attempt) +
                           " was interrupted: respaldo stopped while it ran");
    if (job.cancel_requested) {
      mark_cancelled(ctx, job);
    } else if (job.attempt < job.max_attempts) {
      job.state = job_state::queued;
      job.phase = job_phase::none;  // a finished job keeps its last phase; a waiting one has none
      job.next_attempt_at = ctx.clock.now();
      ctx.log.warn("interrupted job queued again", {{"app", job.app}, {"job_id", job.id}});
    } else {
      job.state = job_state::failed;
      job.finished_at = ctx.clock.now();
      ctx.log.warn("interrupted job failed", {{"app", job.app}, {"job_id", job.id}});
    }
    ctx.end(job);
    if (is_final(job.state)) finished.push_back(job);
  }
  return finished;
}

}  // namespace respaldo
