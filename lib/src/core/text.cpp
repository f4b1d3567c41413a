#include "respaldo/core/text.hpp"

#include <algorithm>
#include <charconv>

namespace respaldo {

namespace {

char lower_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower_char);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower_char(x) == lower_char(y);
         });
}

std::size_t utf8_sequence_at(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80;  // range of the second byte, which rules out overlongs,
  unsigned char hi = 0xbf;  // surrogates and code points above U+10FFFF (RFC 3629 section 4)
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xbf) return 0;
  return len;
}

std::optional<std::uint64_t> parse_scaled(std::string_view text,
                                          std::initializer_list<unit_factor> units,
                                          std::uint64_t limit) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr == text.data()) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  for (const auto& u : units) {
    if (u.unit != unit) continue;
    if (value > limit / u.factor) return std::nullopt;
    return value * u.factor;
  }
  return std::nullopt;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = utf8_sequence_at(s, i);
    if (len == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

std::size_t append_escaped_at(std::string& out, std::string_view s, std::size_t i,
                              bool quote_marks) {
  constexpr char hex[] = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(s[i]);
  const std::size_t len = utf8_sequence_at(s, i);
  if (len > 1) {
    out.append(s.substr(i, len));
    return len;
  }
  if (len == 1 && u >= 0x20 && u != 0x7f) {
    if (quote_marks && (u == '\\' || u == '"')) out += '\\';
    out += s[i];
    return 1;
  }
  switch (u) {
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
  }
  return 1;
}

std::string escape_unprintable(std::string_view s, bool quote_marks) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) i += append_escaped_at(out, s, i, quote_marks);
  return out;
}

}  // namespace respaldo
