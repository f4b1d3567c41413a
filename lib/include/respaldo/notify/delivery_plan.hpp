// When an outbox row is tried again and what an answer means for it. Sans-io: the clock reading
// and the random draw are arguments, so the schedule is unit-tested without time passing.
#pragma once

#include <chrono>
#include <optional>

#include "respaldo/domain/notifier.hpp"
#include "respaldo/plan/retry.hpp"

namespace respaldo {

struct notify_retry_policy {
  // Capped exponential backoff with up to 25% jitter (plan/retry's retry_delay).
  retry_policy backoff{std::chrono::seconds(30), std::chrono::hours(1)};
  // A row not delivered this long after its event is given up (state failed).
  std::chrono::milliseconds give_up_after{std::chrono::hours(24)};
};

// The next attempt after `attempts` failed ones (1-based), or nullopt when it would come after
// the row's give-up time.
std::optional<sys_millis> next_delivery_attempt(const notify_retry_policy& p, sys_millis created,
                                                sys_millis now, int attempts, double random01);

enum class answer_verdict {
  delivered,  // 2xx
  disable,    // 410 Gone: the receiver says the hook no longer exists
  retry,      // any other answer, or none (status 0: a network error or a timeout)
};
answer_verdict judge_answer(unsigned status);

}  // namespace respaldo
