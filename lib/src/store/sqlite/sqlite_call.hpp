// Measures one public call of sqlite_store; the figures feed /metrics (respaldo_store_call_*).
#pragma once

#include <SQLiteCpp/Statement.h>

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

// Borrows the connection's prepared statement for `sql` and resets it when done: a statement left
// mid-step would keep a read transaction open. Not reentrant for one SQL text (none of the
// callers nests).
class sqlite_store::cached {
 public:
  cached(sqlite_store& s, const std::string& sql) : q_(s.prepared(sql)) {}
  ~cached() {
    q_.tryReset();
    try {
      q_.clearBindings();
    } catch (...) {  // nothing to undo: the next use binds every parameter again
    }
  }
  cached(const cached&) = delete;
  cached& operator=(const cached&) = delete;
  SQLite::Statement& operator*() { return q_; }
  SQLite::Statement* operator->() { return &q_; }

 private:
  SQLite::Statement& q_;
};

}  // namespace respaldo
