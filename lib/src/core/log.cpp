#include "respaldo/core/log.hpp"

#include <date/date.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <chrono>
#include <iostream>

#include "respaldo/core/text.hpp"

namespace respaldo {
namespace {

std::string_view level_name(log_level l) {
  switch (l) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
  }
  return "info";
}

std::string json_quote(std::string_view s) {
  // Boost.JSON copies invalid UTF-8 through as it is, which would make the line invalid JSON.
  return boost::json::serialize(boost::json::string(valid_utf8(s)));
}

// Text values are quoted only when they would otherwise be ambiguous. Control characters and
// invalid UTF-8 are always escaped (\x1b, \r): a value may come from a request target or an app,
// and raw ESC or CR would recolour the operator's terminal or forge a line.
std::string text_value(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\') plain = false;
  if (plain) {
    const std::string escaped = escape_unprintable(v);
    if (escaped == v) return escaped;
  }
  return '"' + escape_unprintable(v, true) + '"';
}

}  // namespace

logger::logger(log_format format, std::ostream* out, log_level min_level)
    : format_(format), out_(out ? out : &std::cerr), min_level_(min_level) {}

void logger::log(log_level level, std::string_view message,
                 std::initializer_list<log_field> fields) {
  if (level < min_level_) return;
  auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::string ts = date::format("%FT%TZ", now);
  std::string line;
  if (format_ == log_format::json) {
    line = "{\"ts\":" + json_quote(ts) + ",\"level\":\"" + std::string(level_name(level)) +
           "\",\"msg\":" + json_quote(message);
    for (const auto& f : fields) {
      line += "," + json_quote(f.key) + ":" + (f.numeric ? f.value : json_quote(f.value));
    }
    line += "}\n";
  } else {
    line = ts + " " + std::string(level_name(level)) + " " + escape_unprintable(message);
    for (const auto& f : fields) line += " " + std::string(f.key) + "=" + text_value(f.value);
    line += "\n";
  }
  std::lock_guard lock(mutex_);
  *out_ << line << std::flush;
}

}  // namespace respaldo
