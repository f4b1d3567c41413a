// The hash-and-forward pipeline: backup bytes land once in a chunk buffer, are hashed there
// (SHA-256, on the hash workers when given) and handed from that same buffer to the storage upload.
// Two buffers per stream let receiving the next chunk overlap with storing the current one. The
// chunk that completes the declared size is held back until size and checksum match; on a mismatch
// the upload is aborted and nothing is published. Memory per stream: two chunks, whatever the
// backup's size.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "respaldo/core/error.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {

class job_control;
class hash_workers;

struct pipeline_expectation {
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex
};

struct pipeline_result {
  stored_object object;
  std::uint64_t size = 0;
  std::string sha256;
  std::uint64_t bytes_sent = 0;  // bytes handed to storage by this run
  std::uint64_t bytes_skipped =
      0;  // already committed by an earlier run (resume): hashed, not sent
};

// Reads into the buffer and returns the bytes read; 0 means the end of the stream. Short reads are
// fine (the pipeline asks again until a chunk is full), so a source may hand over what it has.
using fill_function = std::function<boost::asio::awaitable<boost::system::result<std::size_t>>(
    boost::asio::mutable_buffer)>;
// Told the total bytes received so far and whether storage acknowledged more (for persistence).
using progress_function = std::function<void(std::uint64_t received, bool storage_advanced)>;

boost::asio::awaitable<outcome<pipeline_result>> run_pipeline(
    const fill_function& fill, storage_upload& upload, const pipeline_expectation& expected,
    std::size_t chunk_size, job_control& control, const progress_function& progress,
    const std::function<void()>& on_finalizing, hash_workers* hashing = nullptr);

}  // namespace respaldo
