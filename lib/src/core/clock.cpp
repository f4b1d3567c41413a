#include "respaldo/core/clock.hpp"

namespace respaldo {
namespace {

class system_clock_source final : public wall_clock {
 public:
  sys_seconds now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

}  // namespace

const wall_clock& system_wall_clock() {
  static const system_clock_source clock;
  return clock;
}

}  // namespace respaldo
