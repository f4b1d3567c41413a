// Measures one public call of sqlite_store; the figures feed /metrics (respaldo_store_call_*).
#pragma once

#include <chrono>

#include "respaldo/store/sqlite/sqlite_store.hpp"

namespace respaldo {

struct sqlite_store::call {
  explicit call(sqlite_store& s) : s_(s), start_(std::chrono::steady_clock::now()) {}
  ~call() {
    auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::steady_clock::now() - start_)
                                             .count());
    s_.stats_.calls++;
    s_.stats_.total_ns += ns;
    if (ns > s_.stats_.max_ns) s_.stats_.max_ns = ns;
  }
  call(const call&) = delete;
  call& operator=(const call&) = delete;

  sqlite_store& s_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace respaldo
