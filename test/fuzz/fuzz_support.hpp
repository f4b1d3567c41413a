// What every fuzz target shares: slicing the input and the properties checked on each result.
// A broken property aborts, which libFuzzer records as a crash with the input that caused it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/core/error.hpp"

namespace respaldo::fuzz {

[[noreturn]] inline void broken(const char* property, std::string_view detail = {}) {
  std::fprintf(stderr, "property broken: %s: %.*s\n", property, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

inline void require(bool ok, const char* property, std::string_view detail = {}) {
  if (!ok) broken(property, detail);
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits the input at each occurrence of `sep` (a byte fuzzers find quickly), keeping empties.
inline std::vector<std::string_view> split(std::string_view text, char sep, std::size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    auto at = text.find(sep);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + 1);
  }
  parts.push_back(text);
  return parts;
}

// Error messages reach logs, problem+json details and the CLI: whatever the input, they carry no
// control characters that could forge a log line, and they have a code.
inline void check_failure(const failure& f) {
  require(static_cast<bool>(f.code), "a failure has a code", f.message);
  require(!f.message.empty(), "a failure says what is wrong");
  for (unsigned char c : f.message)
    require(c >= 0x20 && c != 0x7f, "failure messages hold no control characters", f.message);
}

}  // namespace respaldo::fuzz
