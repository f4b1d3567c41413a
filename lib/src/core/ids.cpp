#include "respaldo/core/ids.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace respaldo {

std::string random_hex_id(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  // A CSPRNG that cannot produce bytes is a broken invariant of the host, not an expected failure.
  if (bytes > 0 && RAND_bytes(raw.data(), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : raw) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace respaldo
