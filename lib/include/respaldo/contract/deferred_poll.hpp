// The waiting rule of the deferred export protocol, without I/O: after each 202 from the status
// URL the exporter asks how long to wait before the next poll. Pure, so tests step it directly.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace respaldo {

// How long a Retry-After header asks to wait: delta-seconds ("5") or an IMF-fixdate ("Sun, 06 Nov
// 1994 08:49:37 GMT", 0 when already past), either capped at a day; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

// Without Retry-After the wait starts at `initial` and grows by 1.5x per poll up to `max`; a
// valid Retry-After replaces the wait of that poll (not the growth). Every wait is clamped to
// [100 ms, max] so that an app can neither make respaldo spin nor park it for a day.
class deferred_poll {
 public:
  static constexpr std::chrono::milliseconds min_wait{100};

  deferred_poll(std::chrono::milliseconds initial, std::chrono::milliseconds max) noexcept
      : delay_(initial), max_(max) {}

  // The wait after a 202 carrying `retry_after` (nullopt when the header is absent), read at `now`.
  std::chrono::milliseconds next_delay(std::optional<std::string_view> retry_after,
                                       std::chrono::system_clock::time_point now);

  // The wait the next 202 without Retry-After gets (before clamping).
  std::chrono::milliseconds base_delay() const noexcept { return delay_; }

 private:
  std::chrono::milliseconds delay_;
  std::chrono::milliseconds max_;
};

}  // namespace respaldo
