#include "respaldo/jobs/pipeline.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>

#include "respaldo/crypto/crypto.hpp"
#include "respaldo/jobs/control.hpp"
#include "respaldo/jobs/hash_workers.hpp"

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
// parallel group): on the hash workers when there are any, else on the io thread between the
// others' initiations. The MD5 only for a backend that asked for it.
asio::awaitable<boost::system::error_code> hash_chunk(hash_workers* workers, sha256& hash,
                                                      md5* also, const char* data, std::size_t n) {
  if (workers) {
    co_await workers->update(hash, also, asio::buffer(data, n));
  } else {
    hash.update(data, n);
    if (also) also->update(data, n);
  }
  co_return boost::system::error_code{};
}

// The pipeline proper, one step per method; run_pipeline aborts the upload whenever it fails.
class pump {
 public:
  pump(const fill_function& fill, storage_upload& upload, const pipeline_expectation& expected,
       std::size_t chunk_size, job_control& control, const progress_function& progress,
       hash_workers* hashing)
      : fill_(fill),
        upload_(upload),
        expected_(expected),
        chunk_size_(chunk_size),
        control_(control),
        progress_(progress),
        hashing_(hashing),
        committed_(upload.committed()) {
    if (upload.wants_md5()) md5_.emplace();
  }

  asio::awaitable<outcome<pipeline_result>> run(const std::function<void()>& on_finalizing) {
    if (chunk_size_ == 0) co_return fail(errc::invalid_argument, "the pipeline chunk size is 0");
    if (committed_ > expected_.size)
      co_return fail(errc::storage_error, "storage already holds " + std::to_string(committed_) +
                                              " bytes of a backup of " +
                                              std::to_string(expected_.size) + " bytes");
    // Not value-initialised: the buffers are always written before they are read.
    buffers_[0].reset(new char[chunk_size_]);
    buffers_[1].reset(new char[chunk_size_]);
    if (auto first = co_await first_chunk(); !first) co_return first.error();
    while (filled_ == chunk_size_ && received_ < expected_.size)
      if (auto next = co_await middle_chunk(); !next) co_return next.error();
    if (auto end = co_await check_end(); !end) co_return end.error();
    co_return co_await publish(on_finalizing);
  }

 private:
  // Bytes of the chunk [start, start + n) that storage already holds (resumed uploads).
  std::size_t already_stored(std::uint64_t start, std::size_t n) const {
    return committed_ > start
               ? static_cast<std::size_t>(std::min<std::uint64_t>(committed_ - start, n))
               : 0;
  }

  asio::awaitable<outcome<void>> first_chunk() {
    if (control_.stopped()) co_return control_.reason();
    auto ec = co_await fill_chunk(fill_, buffers_[cur_].get(), chunk_size_, filled_);
    received_ += filled_;
    if (ec) co_return read_failure(ec, control_, received_);
    if (received_ > expected_.size) co_return too_long(received_, expected_.size);
    if (progress_) progress_(received_, false);
    co_return outcome<void>{};
  }

  // The current chunk is not the last one: store (and hash) it while the next one arrives.
  asio::awaitable<outcome<void>> middle_chunk() {
    using namespace asio::experimental::awaitable_operators;
    if (control_.stopped()) co_return control_.reason();
    const std::size_t skip = already_stored(received_ - filled_, filled_);
    const int next = 1 - cur_;
    std::size_t got = 0;
    boost::system::error_code read_ec, write_ec, none;
    std::optional<failure> write_failure;
    // The parallel await below wants error codes: the failure's detail is kept aside.
    auto write_chunk = [&](asio::const_buffer c) -> asio::awaitable<boost::system::error_code> {
      auto r = co_await upload_.write(c);
      if (r) co_return boost::system::error_code{};
      write_failure = r.error();
      co_return r.error().code;
    };
    char* current = buffers_[cur_].get();
    const bool storing = skip < filled_;
    if (storing) {
      const auto chunk = asio::buffer(current + skip, filled_ - skip);
      auto all = fill_chunk(fill_, buffers_[next].get(), chunk_size_, got) && write_chunk(chunk) &&
                 hash_chunk(hashing_, hash_, md5_ptr(), current, filled_);
      std::tie(read_ec, write_ec, none) = co_await std::move(all);
      out_.bytes_sent += filled_ - skip;
    } else {
      auto both = fill_chunk(fill_, buffers_[next].get(), chunk_size_, got) &&
                  hash_chunk(hashing_, hash_, md5_ptr(), current, filled_);
      std::tie(read_ec, none) = co_await std::move(both);
    }
    out_.bytes_skipped += skip;
    received_ += got;
    if (control_.stopped()) co_return control_.reason();
    if (write_ec) co_return storage_failure(*write_failure, "storing the backup failed: ");
    if (read_ec) co_return read_failure(read_ec, control_, received_);
    cur_ = next;
    filled_ = got;
    if (received_ > expected_.size) co_return too_long(received_, expected_.size);
    if (progress_) progress_(received_, storing);
    co_return outcome<void>{};
  }

  // The current chunk ends the stream or reaches X-Size: nothing may follow, and size and
  // checksum must match before anything is published.
  asio::awaitable<outcome<void>> check_end() {
    co_await hash_chunk(hashing_, hash_, md5_ptr(), buffers_[cur_].get(), filled_);
    if (filled_ == chunk_size_ && received_ == expected_.size) {
      char probe[1];
      std::size_t extra = 0;
      auto probe_ec = co_await fill_chunk(fill_, probe, 1, extra);
      if (probe_ec) co_return read_failure(probe_ec, control_, received_ + extra);
      if (extra > 0) co_return too_long(received_ + extra, expected_.size);
    }
    if (control_.stopped()) co_return control_.reason();
    if (received_ != expected_.size)
      co_return fail(errc::size_mismatch, "received " + std::to_string(received_) +
                                              " bytes but X-Size said " +
                                              std::to_string(expected_.size));
    out_.sha256 = hash_.finish_hex();
    if (out_.sha256 != expected_.sha256)
      co_return fail(errc::checksum_mismatch, "SHA-256 of the received bytes is " + out_.sha256 +
                                                  " but X-Checksum-SHA256 said " +
                                                  expected_.sha256);
    out_.size = received_;
    co_return outcome<void>{};
  }

  asio::awaitable<outcome<pipeline_result>> publish(const std::function<void()>& on_finalizing) {
    if (on_finalizing) on_finalizing();
    const std::size_t skip = already_stored(received_ - filled_, filled_);
    const auto last = asio::buffer(buffers_[cur_].get() + skip, filled_ - skip);
    if (md5_) upload_.expect_md5(md5_->finish_hex());
    auto stored = co_await upload_.finish(last);
    out_.bytes_sent += filled_ - skip;
    out_.bytes_skipped += skip;
    if (!stored) {
      if (control_.stopped()) co_return control_.reason();
      co_return storage_failure(stored.error(), "publishing the backup failed: ");
    }
    out_.object = std::move(*stored);
    co_return std::move(out_);
  }

  const fill_function& fill_;
  storage_upload& upload_;
  const pipeline_expectation& expected_;
  const std::size_t chunk_size_;
  job_control& control_;
  const progress_function& progress_;
  hash_workers* hashing_;
  const std::uint64_t committed_;
  std::unique_ptr<char[]> buffers_[2];
  md5* md5_ptr() { return md5_ ? &*md5_ : nullptr; }

  sha256 hash_;
  std::optional<md5> md5_;
  pipeline_result out_;
  std::uint64_t received_ = 0;
  int cur_ = 0;
  std::size_t filled_ = 0;
};

}  // namespace

asio::awaitable<outcome<pipeline_result>> run_pipeline(
    const fill_function& fill, storage_upload& upload, const pipeline_expectation& expected,
    std::size_t chunk_size, job_control& control, const progress_function& progress,
    const std::function<void()>& on_finalizing, hash_workers* hashing) {
  pump p(fill, upload, expected, chunk_size, control, progress, hashing);
  auto result = co_await p.run(on_finalizing);
  // An interrupted run (shutdown) leaves its upload to the next process, which resumes it.
  if (!result && result.error().code != errc::interrupted) co_await upload.abort();
  co_return result;
}

}  // namespace respaldo
