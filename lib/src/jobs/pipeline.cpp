#include "respaldo/jobs/pipeline.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>

#include "respaldo/crypto/crypto.hpp"
#include "respaldo/jobs/control.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;

failure fail(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
}

// Keeps the backend's own code (e.g. drive_quota_exceeded, drive_session_expired) so the job
// reports and retries it precisely; anything else is a generic storage error.
failure storage_failure(const failure& f, const std::string& what) {
  const auto& ec = f.code;
  const auto code = ec.category() == error_category() ? ec : make_error_code(errc::storage_error);
  return failure{code, what + f.message};
}

failure read_failure(const boost::system::error_code& ec, const job_control& control,
                     std::uint64_t received) {
  if (control.stopped()) return control.reason();
  if (ec == errc::timeout)
    return fail(errc::app_timeout, "the export stream stalled after " + std::to_string(received) +
                                       " bytes (no data within --read-timeout)");
  return fail(errc::app_export_failed, "the export stream broke after " + std::to_string(received) +
                                           " bytes: " + ec.message());
}

failure too_long(std::uint64_t received, std::uint64_t declared) {
  // Reading on to count the excess could take forever: the stream is cut at the first extra byte.
  return fail(errc::size_mismatch, "received at least " + std::to_string(received) +
                                       " bytes but X-Size said " + std::to_string(declared));
}

// Fills `buf` until it is full or the source ends (a source may return short reads; 0 is the
// end). `got` counts the bytes read, also when it fails.
asio::awaitable<boost::system::error_code> fill_chunk(const fill_function& fill, char* buf,
                                                      std::size_t size, std::size_t& got) {
  got = 0;
  while (got < size) {
    auto r = co_await fill(asio::buffer(buf + got, size - got));
    if (!r) co_return r.error();
    if (*r == 0) break;
    got += *r;
  }
  co_return boost::system::error_code{};
}

// Hashes a chunk while storage writes it and the next chunk arrives (a member of the same
// parallel group, run on the io thread between the others' initiations).
asio::awaitable<boost::system::error_code> hash_chunk(sha256& hash, const char* data,
                                                      std::size_t n) {
  hash.update(data, n);
  co_return boost::system::error_code{};
}

// The pipeline proper; run_pipeline aborts the upload whenever this fails.
asio::awaitable<outcome<pipeline_result>> pump(const fill_function& fill, storage_upload& upload,
                                               const pipeline_expectation& expected,
                                               std::size_t chunk_size, job_control& control,
                                               const progress_function& progress,
                                               const std::function<void()>& on_finalizing) {
  using namespace asio::experimental::awaitable_operators;
  if (chunk_size == 0) co_return fail(errc::invalid_argument, "the pipeline chunk size is 0");
  const std::uint64_t committed = upload.committed();
  if (committed > expected.size)
    co_return fail(errc::storage_error, "storage already holds " + std::to_string(committed) +
                                            " bytes of a backup of " +
                                            std::to_string(expected.size) + " bytes");
  // Not value-initialised: the buffers are always written before they are read.
  std::unique_ptr<char[]> buffers[2] = {std::unique_ptr<char[]>(new char[chunk_size]),
                                        std::unique_ptr<char[]>(new char[chunk_size])};
  sha256 hash;
  pipeline_result out;
  std::uint64_t received = 0;
  // Bytes of the chunk [start, start + n) that storage already holds (resumed uploads).
  auto already_stored = [committed](std::uint64_t start, std::size_t n) -> std::size_t {
    return committed > start
               ? static_cast<std::size_t>(std::min<std::uint64_t>(committed - start, n))
               : 0;
  };

  if (control.stopped()) co_return control.reason();
  int cur = 0;
  std::size_t filled = 0;
  auto first_ec = co_await fill_chunk(fill, buffers[cur].get(), chunk_size, filled);
  received += filled;
  if (first_ec) co_return read_failure(first_ec, control, received);
  if (received > expected.size) co_return too_long(received, expected.size);
  if (progress) progress(received, false);

  while (filled == chunk_size && received < expected.size) {
    if (control.stopped()) co_return control.reason();
    // This chunk is not the last one: store it while the next one arrives.
    const std::size_t skip = already_stored(received - filled, filled);
    const int next = 1 - cur;
    std::size_t got = 0;
    boost::system::error_code read_ec, write_ec;
    std::optional<failure> write_failure;
    // The parallel await below wants error codes: the failure's detail is kept aside.
    auto write_chunk = [&](asio::const_buffer c) -> asio::awaitable<boost::system::error_code> {
      auto r = co_await upload.write(c);
      if (r) co_return boost::system::error_code{};
      write_failure = r.error();
      co_return r.error().code;
    };
    const bool storing = skip < filled;
    if (storing) {
      const auto chunk = asio::buffer(buffers[cur].get() + skip, filled - skip);
      auto all = fill_chunk(fill, buffers[next].get(), chunk_size, got) && write_chunk(chunk) &&
                 hash_chunk(hash, buffers[cur].get(), filled);
      boost::system::error_code none;
      std::tie(read_ec, write_ec, none) = co_await std::move(all);
      out.bytes_sent += filled - skip;
    } else {
      auto both = fill_chunk(fill, buffers[next].get(), chunk_size, got) &&
                  hash_chunk(hash, buffers[cur].get(), filled);
      boost::system::error_code none;
      std::tie(read_ec, none) = co_await std::move(both);
    }
    out.bytes_skipped += skip;
    received += got;
    if (control.stopped()) co_return control.reason();
    if (write_ec) co_return storage_failure(*write_failure, "storing the backup failed: ");
    if (read_ec) co_return read_failure(read_ec, control, received);
    cur = next;
    filled = got;
    if (received > expected.size) co_return too_long(received, expected.size);
    if (progress) progress(received, storing);
  }

  hash.update(buffers[cur].get(), filled);
  // The current chunk ends the stream or reaches X-Size. Make sure nothing follows.
  if (filled == chunk_size && received == expected.size) {
    char probe[1];
    std::size_t extra = 0;
    auto probe_ec = co_await fill_chunk(fill, probe, 1, extra);
    if (probe_ec) co_return read_failure(probe_ec, control, received + extra);
    if (extra > 0) co_return too_long(received + extra, expected.size);
  }
  if (control.stopped()) co_return control.reason();
  if (received != expected.size)
    co_return fail(errc::size_mismatch, "received " + std::to_string(received) +
                                            " bytes but X-Size said " +
                                            std::to_string(expected.size));
  out.sha256 = hash.finish_hex();
  if (out.sha256 != expected.sha256)
    co_return fail(errc::checksum_mismatch, "SHA-256 of the received bytes is " + out.sha256 +
                                                " but X-Checksum-SHA256 said " + expected.sha256);
  out.size = received;
  if (on_finalizing) on_finalizing();
  const std::size_t skip = already_stored(received - filled, filled);
  const auto last = asio::buffer(buffers[cur].get() + skip, filled - skip);
  auto stored = co_await upload.finish(last);
  out.bytes_sent += filled - skip;
  out.bytes_skipped += skip;
  if (!stored) {
    if (control.stopped()) co_return control.reason();
    co_return storage_failure(stored.error(), "publishing the backup failed: ");
  }
  out.object = std::move(*stored);
  co_return out;
}

}  // namespace

asio::awaitable<outcome<pipeline_result>> run_pipeline(const fill_function& fill,
                                                       storage_upload& upload,
                                                       const pipeline_expectation& expected,
                                                       std::size_t chunk_size, job_control& control,
                                                       const progress_function& progress,
                                                       const std::function<void()>& on_finalizing) {
  auto result = co_await pump(fill, upload, expected, chunk_size, control, progress, on_finalizing);
  // An interrupted run (shutdown) leaves its upload to the next process, which resumes it.
  if (!result && result.error().code != errc::interrupted) co_await upload.abort();
  co_return result;
}

}  // namespace respaldo
