#include "respaldo/pipeline.hpp"

#include "respaldo/crypto.hpp"
#include "respaldo/job_control.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>

namespace respaldo {
namespace {

namespace asio = boost::asio;

failure fail(errc code, std::string message) { return failure{make_error_code(code), std::move(message)}; }

failure read_failure(const boost::system::error_code& ec, const job_control& control,
                     std::uint64_t received) {
  if (control.stopped()) return control.reason();
  if (ec == errc::timeout)
    return fail(errc::app_timeout, "the export stream stalled after " + std::to_string(received) +
                                       " bytes (no data within --read-timeout)");
  return fail(errc::app_export_failed, "the export stream broke after " + std::to_string(received) +
                                           " bytes: " + ec.message());
}

// The pipeline proper; run_pipeline aborts the upload whenever this fails.
asio::awaitable<outcome<pipeline_result>> pump(const fill_function& fill, storage_upload& upload,
                                               const pipeline_expectation& expected,
                                               std::size_t chunk_size, job_control& control,
                                               const progress_function& progress,
                                               const std::function<void()>& on_finalizing) {
  using namespace asio::experimental::awaitable_operators;
  // Not value-initialised: the buffers are always written before they are read.
  std::unique_ptr<char[]> buffers[2] = {std::unique_ptr<char[]>(new char[chunk_size]),
                                        std::unique_ptr<char[]>(new char[chunk_size])};
  sha256 hash;
  pipeline_result out;
  const std::uint64_t committed = upload.committed();
  std::uint64_t received = 0;
  const failure too_long =
      fail(errc::size_mismatch, "received more than the " + std::to_string(expected.size) +
                                    " bytes announced by X-Size");
  // Bytes of the chunk [start, start + n) that storage already holds (resumed uploads).
  auto already_stored = [committed](std::uint64_t start, std::size_t n) -> std::size_t {
    return committed > start ? static_cast<std::size_t>(std::min<std::uint64_t>(committed - start, n)) : 0;
  };

  int cur = 0;
  auto first = co_await fill(asio::buffer(buffers[cur].get(), chunk_size));
  if (!first) co_return read_failure(first.error(), control, received);
  std::size_t filled = *first;
  received += filled;
  hash.update(buffers[cur].get(), filled);
  if (received > expected.size) co_return too_long;
  if (progress) progress(received, false);

  while (filled == chunk_size && received < expected.size) {
    if (control.stopped()) co_return control.reason();
    // This chunk is not the last one: store it while the next one arrives.
    const std::size_t skip = already_stored(received - filled, filled);
    const int next = 1 - cur;
    const auto next_buffer = asio::buffer(buffers[next].get(), chunk_size);
    boost::system::result<std::size_t> got = std::size_t{0};
    boost::system::error_code write_ec;
    if (skip < filled) {
      const auto chunk = asio::buffer(buffers[cur].get() + skip, filled - skip);
      std::tie(got, write_ec) = co_await (fill(next_buffer) && upload.write(chunk));
      out.bytes_sent += filled - skip;
    } else {
      got = co_await fill(next_buffer);
    }
    out.bytes_skipped += skip;
    if (control.stopped()) co_return control.reason();
    if (write_ec) co_return fail(errc::storage_error, "storing the backup failed: " + upload.error_detail());
    if (!got) co_return read_failure(got.error(), control, received);
    cur = next;
    filled = *got;
    received += filled;
    hash.update(buffers[cur].get(), filled);
    if (received > expected.size) co_return too_long;
    if (progress) progress(received, skip < filled);
  }

  // The current chunk ends the stream or reaches X-Size. Make sure nothing follows.
  if (filled == chunk_size && received == expected.size) {
    char probe[1];
    auto extra = co_await fill(asio::buffer(probe, 1));
    if (!extra) co_return read_failure(extra.error(), control, received);
    if (*extra > 0) co_return too_long;
  }
  if (control.stopped()) co_return control.reason();
  if (received != expected.size)
    co_return fail(errc::size_mismatch, "received " + std::to_string(received) +
                                            " bytes but X-Size said " + std::to_string(expected.size));
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
    const auto code = stored.error().category() == error_category() ? stored.error()
                                                                    : make_error_code(errc::storage_error);
    co_return failure{code, "publishing the backup failed: " + upload.error_detail()};
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
  if (!result) co_await upload.abort();
  co_return result;
}

}  // namespace respaldo
