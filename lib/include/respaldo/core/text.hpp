// Small ASCII text helpers shared by the HTTP code, the API and the contract client (header
// names, media types and hex digests are ASCII and case-insensitive).
#pragma once

#include <string>
#include <string_view>

namespace respaldo {

// ASCII lower-case copy; other bytes are kept as they are.
std::string lower(std::string_view s);

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace respaldo
