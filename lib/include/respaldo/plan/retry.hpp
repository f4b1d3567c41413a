// The retry policy of job attempts: capped exponential backoff with jitter, and what becomes of
// an attempt that ended. Pure: the random draw and the shutdown state are arguments.
#pragma once

#include <chrono>

#include "respaldo/core/error.hpp"

namespace respaldo {

struct retry_policy {
  std::chrono::milliseconds base_delay{5'000};
  std::chrono::milliseconds max_delay{300'000};
};

// Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, plus up to 25%
// jitter drawn from `random01` (in [0, 1)).
std::chrono::milliseconds retry_delay(const retry_policy& p, int attempt, double random01);

enum class attempt_verdict {
  succeeded,
  cancelled,
  requeue,  // interrupted by a shutdown: runs again at the next start without spending an attempt
  retry,    // a transient failure with attempts left: queued again after retry_delay
  failed,
};

// `code` is the failure of attempt number `attempt` (empty: success).
attempt_verdict judge_attempt(const boost::system::error_code& code, int attempt, int max_attempts,
                              bool shutting_down);

}  // namespace respaldo
