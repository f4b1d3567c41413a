// A wall clock that tests set and step by hand.
#pragma once

#include <chrono>

#include "respaldo/core/clock.hpp"

namespace respaldo::test {

class manual_clock final : public wall_clock {
 public:
  explicit manual_clock(sys_seconds t) : t_(t) {}
  sys_seconds now() const override { return t_; }
  void set(sys_seconds t) { t_ = t; }
  void advance(std::chrono::seconds d) { t_ += d; }

 private:
  sys_seconds t_;
};

}  // namespace respaldo::test
