#include "respaldo/agent/gzip.hpp"

#include <zlib.h>

#include <array>

namespace respaldo {

struct gzip_writer::impl {
  z_stream z{};
  bool ok = false;
};

gzip_writer::gzip_writer() : impl_(std::make_unique<impl>()) {
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's; level 6 is gzip's default.
  impl_->ok = deflateInit2(&impl_->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

gzip_writer::~gzip_writer() {
  if (impl_->ok) deflateEnd(&impl_->z);
}

bool gzip_writer::write(const void* data, std::size_t n, bool finish, std::string& out) {
  if (!impl_->ok) return false;
  auto& z = impl_->z;
  z.next_in = static_cast<Bytef*>(const_cast<void*>(data));
  z.avail_in = static_cast<uInt>(n);
  std::array<unsigned char, 64 * 1024> buf{};
  int rc = Z_OK;
  do {
    z.next_out = buf.data();
    z.avail_out = static_cast<uInt>(buf.size());
    rc = deflate(&z, finish ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_ERROR) return false;
    out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - z.avail_out);
  } while (z.avail_out == 0 || (finish && rc != Z_STREAM_END));
  return true;
}

bool gunzip(const std::string& data, std::string& out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::array<unsigned char, 64 * 1024> buf{};
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = buf.data();
    z.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - z.avail_out);
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END;
}

}  // namespace respaldo
