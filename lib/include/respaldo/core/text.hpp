// Small ASCII text helpers shared by the HTTP code, the API and the contract client (header
// names, media types and hex digests are ASCII and case-insensitive).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace respaldo {

// One unit of a number-with-unit text: "MiB" scales by 1048576, "" by what a bare number means.
struct unit_factor {
  std::string_view unit;
  std::uint64_t factor;
};
// "30s", "8MiB": digits then one of `units`, scaled; nullopt for anything else or when the result
// would exceed `limit`. Shared by the duration and byte-size parsers.
std::optional<std::uint64_t> parse_scaled(std::string_view text,
                                          std::initializer_list<unit_factor> units,
                                          std::uint64_t limit);

// ASCII lower-case copy; other bytes are kept as they are.
std::string lower(std::string_view s);

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

// Length (1 to 4) of the well-formed UTF-8 sequence starting at s[i], or 0 when none starts
// there: a stray continuation byte, an overlong form, a surrogate, a code point above U+10FFFF or
// a sequence cut short.
std::size_t utf8_sequence_at(std::string_view s, std::size_t i) noexcept;

// `s` with each byte of invalid UTF-8 replaced by U+FFFD, so that it can go into JSON.
std::string valid_utf8(std::string_view s);

// Appends the character at s[i] to `out`, escaped when it is a control character (below 0x20,
// 0x7f) or a byte of invalid UTF-8: \n, \r, \t, else \xHH (\x1b for ESC). Peer-supplied text
// then cannot recolour a terminal, move its cursor or start a forged log line. With
// `quote_marks`, '\' and '"' become \\ and \" (for quoted values). Returns the bytes consumed.
std::size_t append_escaped_at(std::string& out, std::string_view s, std::size_t i,
                              bool quote_marks = false);

// All of `s` through append_escaped_at.
std::string escape_unprintable(std::string_view s, bool quote_marks = false);

}  // namespace respaldo
