// Structured logs: one line per event, as `key=value` text or JSON objects. Callers pass only
// values that are safe to show; secrets never reach the logger.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

namespace respaldo {

enum class log_format { text, json };
enum class log_level { debug, info, warn, error };

struct log_field {
  log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  log_field(std::string_view k, const std::string& v) : key(k), value(v) {}
  log_field(std::string_view k, const char* v) : key(k), value(v) {}
  log_field(std::string_view k, std::int64_t v) : key(k), value(std::to_string(v)), numeric(true) {}
  log_field(std::string_view k, std::uint64_t v)
      : key(k), value(std::to_string(v)), numeric(true) {}
  log_field(std::string_view k, int v) : key(k), value(std::to_string(v)), numeric(true) {}
  log_field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)), numeric(true) {}
  log_field(std::string_view k, double v) : key(k), value(std::to_string(v)), numeric(true) {}

  std::string_view key;
  std::string value;
  bool numeric = false;
};

class logger {
 public:
  explicit logger(log_format format = log_format::text, std::ostream* out = nullptr,
                  log_level min_level = log_level::info);

  void log(log_level level, std::string_view message, std::initializer_list<log_field> fields = {});
  void debug(std::string_view m, std::initializer_list<log_field> f = {}) {
    log(log_level::debug, m, f);
  }
  void info(std::string_view m, std::initializer_list<log_field> f = {}) {
    log(log_level::info, m, f);
  }
  void warn(std::string_view m, std::initializer_list<log_field> f = {}) {
    log(log_level::warn, m, f);
  }
  void error(std::string_view m, std::initializer_list<log_field> f = {}) {
    log(log_level::error, m, f);
  }

  log_format format() const { return format_; }

 private:
  log_format format_;
  std::ostream* out_;
  log_level min_level_;
  std::mutex mutex_;  // the blocking-file thread pool may log too
};

}  // namespace respaldo
