// Identifiers made by respaldo itself: job and backup ids, request ids.
#pragma once

#include <cstddef>
#include <string>

namespace respaldo {

// 2 * `bytes` lower-case hex digits from the CSPRNG, so ids cannot be guessed from earlier ones.
std::string random_hex_id(std::size_t bytes = 8);

}  // namespace respaldo
