// Hashing on worker threads: the digests are those of hashing inline, the io thread keeps running
// while a chunk is hashed, and the pipeline behaves the same on workers as on the io thread.
#include "respaldo/jobs/hash_workers.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <catch2/catch.hpp>

#include "jobs/pipeline_harness.hpp"

using namespace respaldo::test::pipeline;
using respaldo::hash_workers;

namespace {

struct digests {
  std::string sha256, md5;
};

// Hashes `data` in pieces of `piece` bytes through the workers, as the pipeline does. The
// io_context is made first: it must outlive the workers, whose last completions it receives.
digests hash_in_pieces(std::size_t threads, const std::string& data, std::size_t piece,
                       bool with_md5) {
  asio::io_context io;
  hash_workers workers(threads);
  CHECK(workers.threads() == threads);
  respaldo::sha256 sha;
  respaldo::md5 md;
  auto run = [&]() -> asio::awaitable<bool> {
    for (std::size_t at = 0; at < data.size(); at += piece) {
      const auto n = std::min(piece, data.size() - at);
      co_await workers.update(sha, with_md5 ? &md : nullptr, asio::buffer(data.data() + at, n));
    }
    co_return true;
  };
  REQUIRE(run_with_deadline(io, run()));
  return {sha.finish_hex(), with_md5 ? md.finish_hex() : ""};
}

}  // namespace

TEST_CASE("hash workers give the digests of hashing inline", "[hash_workers]") {
  const std::size_t threads = GENERATE(0u, 1u, 2u, 4u);
  const bool with_md5 = GENERATE(false, true);
  const std::string data = make_bytes(300'007, 7);
  const auto got = hash_in_pieces(threads, data, GENERATE(1000u, 65536u, 400'000u), with_md5);
  CHECK(got.sha256 == respaldo::sha256_hex(data));
  if (with_md5) CHECK(got.md5 == respaldo::md5_hex(data));
}

TEST_CASE("the io thread keeps running while a chunk is hashed on a worker", "[hash_workers]") {
  const std::size_t threads = GENERATE(0u, 1u, 2u);
  asio::io_context io;
  hash_workers workers(threads);
  const std::string data = make_bytes(64 * 1024 * 1024, 3);
  respaldo::sha256 sha;
  respaldo::md5 md;
  bool hashing = false, done = false;
  std::size_t turns_while_hashing = 0;
  // Another coroutine of the io thread: it gets turns only while the update has suspended it.
  auto other = [&]() -> asio::awaitable<void> {
    while (!done) {
      if (hashing) ++turns_while_hashing;
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  };
  auto hash = [&]() -> asio::awaitable<bool> {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    hashing = true;
    co_await workers.update(sha, &md, asio::buffer(data));
    hashing = false;
    done = true;
    co_return true;
  };
  asio::co_spawn(io, other(), asio::detached);
  REQUIRE(run_with_deadline(io, hash()));
  CHECK(sha.finish_hex() == respaldo::sha256_hex(data));
  CHECK(md.finish_hex() == respaldo::md5_hex(data));
  if (threads == 0)
    CHECK(turns_while_hashing == 0);  // inline: the io thread was busy hashing
  else
    CHECK(turns_while_hashing > 0);
}

TEST_CASE("the pipeline on hash workers", "[hash_workers][pipeline]") {
  const std::size_t threads = GENERATE(1u, 2u);
  const std::size_t chunk = 64;

  SECTION("streams of every shape are stored whole with their SHA-256") {
    const std::size_t size = GENERATE(0u, 1u, 63u, 64u, 65u, 64u * 7, 64u * 7 + 9);
    harness h(make_bytes(size, static_cast<unsigned>(size)));
    hash_workers workers(threads);  // after the harness's io_context, which must outlive it
    h.workers = &workers;
    h.src.max_read = GENERATE(std::numeric_limits<std::size_t>::max(), std::size_t{5});
    auto r = h.run_exact(chunk);
    REQUIRE(r);
    CHECK(r->sha256 == respaldo::sha256_hex(h.src.data));
    CHECK(h.up.stored == h.src.data);
    CHECK(h.up.finish_calls == 1);
  }
  SECTION("the MD5 a backend asks for, also for a resumed upload") {
    const std::string data = make_bytes(64 * 3 + 5);
    harness h(data);
    hash_workers workers(threads);  // after the harness's io_context, which must outlive it
    h.workers = &workers;
    h.up.want_md5 = true;
    h.up.committed_bytes = GENERATE(0u, 128u);
    REQUIRE(h.run_exact(chunk));
    CHECK(h.up.md5s == std::vector{respaldo::md5_hex(data)});
    CHECK(h.up.stored == data.substr(h.up.committed_bytes));
  }
  SECTION("a checksum mismatch publishes nothing") {
    harness h(make_bytes(64 * 5));
    hash_workers workers(threads);  // after the harness's io_context, which must outlive it
    h.workers = &workers;
    auto r = h.run(h.src.data.size(), respaldo::sha256_hex("other"), chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::checksum_mismatch);
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
  }
  SECTION("a stalled source is still interrupted by a cancel") {
    harness h(make_bytes(64 * 10));
    hash_workers workers(threads);  // after the harness's io_context, which must outlive it
    h.workers = &workers;
    h.src.stall_at = 64 * 4 + 3;
    asio::steady_timer later(h.io, std::chrono::milliseconds(20));
    later.async_wait([&](error_code) {
      h.control.stop(failure{errc::cancelled, "cancelled on request"});
    });
    auto r = h.run_exact(chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::cancelled);
    CHECK(h.up.abort_calls == 1);
  }
}
