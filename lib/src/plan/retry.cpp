#include "respaldo/plan/retry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace respaldo {

std::chrono::milliseconds retry_delay(const retry_policy& p, int attempt, double random01) {
  long double d = static_cast<long double>(p.base_delay.count());
  for (int i = 1; i < attempt && d > 0 && d < p.max_delay.count(); ++i) d *= 2;
  d = std::min<long double>(d, static_cast<long double>(p.max_delay.count()));
  // Stray random values (and NaN) stay within the documented bounds.
  const double jitter = std::isnan(random01) ? 0.0 : std::clamp(random01, 0.0, 1.0);
  d += d * 0.25L * static_cast<long double>(jitter);
  return std::chrono::milliseconds(static_cast<std::int64_t>(d));
}

attempt_verdict judge_attempt(const boost::system::error_code& code, int attempt, int max_attempts,
                              bool shutting_down) {
  if (!code) return attempt_verdict::succeeded;
  if (code == errc::cancelled) return attempt_verdict::cancelled;
  if (code == errc::interrupted && shutting_down) return attempt_verdict::requeue;
  if (is_transient(code) && attempt < max_attempts) return attempt_verdict::retry;
  return attempt_verdict::failed;
}

}  // namespace respaldo
