// The wall clock: read through an interface wherever time decides something (runner, api,
// scheduler), so tests can step it.
#pragma once

#include <chrono>

namespace respaldo {

using sys_seconds = std::chrono::sys_seconds;

// Tests pass a manual one.
class wall_clock {
 public:
  virtual ~wall_clock() = default;
  virtual sys_seconds now() const = 0;
};

// std::chrono::system_clock, floored to whole seconds.
const wall_clock& system_wall_clock();

}  // namespace respaldo
