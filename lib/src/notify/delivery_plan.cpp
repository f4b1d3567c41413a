#include "respaldo/notify/delivery_plan.hpp"

namespace respaldo {

std::optional<sys_millis> next_delivery_attempt(const notify_retry_policy& p, sys_millis created,
                                                sys_millis now, int attempts, double random01) {
  const auto next = now + retry_delay(p.backoff, attempts, random01);
  if (next > created + p.give_up_after) return std::nullopt;
  return next;
}

answer_verdict judge_answer(unsigned status) {
  if (status >= 200 && status < 300) return answer_verdict::delivered;
  if (status == 410) return answer_verdict::disable;
  return answer_verdict::retry;
}

}  // namespace respaldo
