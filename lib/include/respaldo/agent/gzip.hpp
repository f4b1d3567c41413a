// gzip (RFC 1952) compression of a stream in pieces, for sources whose format is compressed on
// the way (mariadb: sql.gz). zlib stays in the .cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace respaldo {

class gzip_writer {
 public:
  gzip_writer();
  ~gzip_writer();
  gzip_writer(const gzip_writer&) = delete;
  gzip_writer& operator=(const gzip_writer&) = delete;

  // Compresses `n` bytes, appending what zlib produced to `out`; `finish` ends the stream (the
  // trailer with CRC-32 and size). Returns false when zlib failed (out of memory).
  bool write(const void* data, std::size_t n, bool finish, std::string& out);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The whole of `data` decompressed (gzip), or nullopt-like false when it is not valid gzip.
bool gunzip(const std::string& data, std::string& out);

}  // namespace respaldo
