// Hashing off the io thread. The io_context keeps all I/O; the SHA-256 (and the MD5 a backend asks
// for) of each chunk runs on a small pool while the io thread receives the next chunk and sends
// the current one. A stream hashes one chunk at a time, so its order is kept without locks: the
// caller awaits each update before starting the next. The SHA-256 and the MD5 of one chunk run
// side by side on two workers when there are two.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <memory>

#include "respaldo/crypto/crypto.hpp"

namespace respaldo {

class hash_workers {
 public:
  // 0 threads: every update runs inline on the caller's thread (tests, tiny machines).
  explicit hash_workers(std::size_t threads);
  ~hash_workers();  // waits for running updates; the io_context must outlive it
  hash_workers(const hash_workers&) = delete;
  hash_workers& operator=(const hash_workers&) = delete;

  // Feeds `data` to `hash` (and `also`, if not null) and resumes on the caller's executor. The
  // bytes and the digests must stay alive and untouched until it returns. Not cancellable: an
  // update of one chunk takes milliseconds, and returning early would leave a worker reading
  // the caller's buffer.
  boost::asio::awaitable<void> update(sha256& hash, md5* also, boost::asio::const_buffer data);

  std::size_t threads() const { return threads_; }
  // The default for --hash-threads: the machine's cores (at least 1).
  static std::size_t default_threads();

 private:
  std::size_t threads_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

}  // namespace respaldo
