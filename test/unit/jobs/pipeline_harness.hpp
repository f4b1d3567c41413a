// The pipeline's test bench: an in-memory source, an in-memory storage upload, and a harness
// running run_pipeline over them (on the hash workers when given some).
#pragma once

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/crypto/crypto.hpp"
#include "respaldo/jobs/control.hpp"
#include "respaldo/jobs/pipeline.hpp"
#include "support/async_test.hpp"

namespace respaldo::test::pipeline {

namespace asio = boost::asio;
using boost::system::error_code;
using respaldo::errc;
using respaldo::failure;
using respaldo::fill_function;
using respaldo::job_control;
using respaldo::outcome;
using respaldo::pipeline_expectation;
using respaldo::pipeline_result;
using respaldo::progress_function;
using respaldo::storage_upload;
using respaldo::stored_object;
using respaldo::test::run_with_deadline;

// Deterministic bytes that differ from chunk to chunk.
inline std::string make_bytes(std::size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  unsigned x = seed * 2654435761u + 12345u;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

// A backup stream over a byte string: optional short reads, a failure at an offset, or a stall
// (a read that waits until the job is stopped, like a silent socket).
struct memory_source {
  std::string data;
  std::size_t pos = 0;
  std::size_t max_read = std::numeric_limits<std::size_t>::max();
  std::optional<std::size_t> fail_at;
  error_code fail_code = errc::http_protocol_error;
  std::optional<std::size_t> stall_at;
  job_control* control = nullptr;
  int reads = 0;

  asio::awaitable<boost::system::result<std::size_t>> read(asio::mutable_buffer b) {
    ++reads;
    if (fail_at && pos >= *fail_at) co_return fail_code;
    if (stall_at && pos >= *stall_at) {
      auto ex = co_await asio::this_coro::executor;
      asio::steady_timer t(ex, std::chrono::hours(1));
      if (!control->stopped())
        co_await t.async_wait(
            asio::bind_cancellation_slot(control->slot(), asio::as_tuple(asio::use_awaitable)));
      co_return make_error_code(errc::cancelled);
    }
    std::size_t n = std::min({b.size(), data.size() - pos, max_read});
    if (fail_at) n = std::min(n, *fail_at - pos);
    if (stall_at) n = std::min(n, *stall_at - pos);
    std::memcpy(b.data(), data.data() + pos, n);
    pos += n;
    co_return n;
  }

  fill_function fill() {
    return [this](asio::mutable_buffer b) { return read(b); };
  }
};

// Storage that keeps the bytes in memory and records how it was driven.
struct memory_upload final : storage_upload {
  std::uint64_t committed_bytes = 0;
  std::string stored;  // bytes received by write() and finish(), in order
  std::vector<std::size_t> writes;
  std::optional<std::size_t> last_chunk;  // size passed to finish()
  int finish_calls = 0;
  int abort_calls = 0;
  std::optional<int> fail_write;  // 0-based index of the write() that fails
  bool fail_finish = false;
  bool yield = true;  // complete writes asynchronously, as a real backend does
  // State of the source when finish() was called: all of it must have been read by then.
  const memory_source* source = nullptr;
  std::size_t source_pos_at_finish = 0;
  bool want_md5 = false;
  std::vector<std::string> md5s;  // what expect_md5() was handed
  int finish_calls_at_md5 = -1;
  bool wants_md5() const override { return want_md5; }
  void expect_md5(std::string hex) override {
    md5s.push_back(std::move(hex));
    finish_calls_at_md5 = finish_calls;
  }

  std::uint64_t committed() const override { return committed_bytes; }
  std::string resume_state() const override { return "at " + std::to_string(stored.size()); }
  static failure disk_on_fire() {
    return failure{make_error_code(errc::storage_error), "disk on fire"};
  }

  asio::awaitable<outcome<void>> write(asio::const_buffer chunk) override {
    if (yield) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    const int index = static_cast<int>(writes.size());
    writes.push_back(chunk.size());
    if (fail_write && *fail_write == index) co_return disk_on_fire();
    stored.append(static_cast<const char*>(chunk.data()), chunk.size());
    co_return outcome<void>{};
  }

  asio::awaitable<outcome<stored_object>> finish(asio::const_buffer last) override {
    ++finish_calls;
    last_chunk = last.size();
    if (source) source_pos_at_finish = source->pos;
    if (yield) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (fail_finish) co_return disk_on_fire();
    stored.append(static_cast<const char*>(last.data()), last.size());
    stored_object o;
    o.location = "mem/object";
    o.size = stored.size();
    co_return o;
  }

  asio::awaitable<void> abort() override {
    ++abort_calls;
    co_return;
  }
};

struct harness {
  asio::io_context io;
  memory_source src;
  memory_upload up;
  job_control control;
  std::vector<std::uint64_t> progress_seen;
  int finalizing_calls = 0;
  hash_workers* workers = nullptr;

  explicit harness(std::string data) {
    src.data = std::move(data);
    src.control = &control;
    up.source = &src;
  }

  outcome<pipeline_result> run(std::uint64_t declared_size, std::string declared_sha,
                               std::size_t chunk) {
    const fill_function fill = src.fill();
    const pipeline_expectation expected{declared_size, std::move(declared_sha)};
    const progress_function progress = [this](std::uint64_t received, bool) {
      progress_seen.push_back(received);
    };
    const std::function<void()> on_finalizing = [this] { ++finalizing_calls; };
    return run_with_deadline(io, respaldo::run_pipeline(fill, up, expected, chunk, control,
                                                        progress, on_finalizing, workers));
  }

  outcome<pipeline_result> run_exact(std::size_t chunk) {
    return run(src.data.size(), respaldo::sha256_hex(src.data), chunk);
  }
};

inline std::vector<std::size_t> repeat(std::size_t value, std::size_t times) {
  return std::vector<std::size_t>(times, value);
}

}  // namespace respaldo::test::pipeline
