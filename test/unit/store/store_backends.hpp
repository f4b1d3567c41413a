// The store backends the shared contract suites run against: SQLite on a temporary file and the
// in-memory fake the consumers' tests use.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>

#include "respaldo/core/log.hpp"
#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "support/fake_store.hpp"
#include "support/temp_files.hpp"

namespace respaldo::test {

// A store on a file in a temporary directory.
struct sqlite_backend {
  temp_dir dir;
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};

  std::unique_ptr<store> open() {
    auto s = make_sqlite_store(dir.file("respaldo.db"), log);
    INFO((s ? std::string() : s.error().message));
    REQUIRE(s.has_value());
    return std::move(*s);
  }
};

struct fake_backend {
  std::unique_ptr<store> open() { return std::make_unique<fake_store>(); }
};

}  // namespace respaldo::test
