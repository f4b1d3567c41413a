// The hash-and-forward pipeline driven by an in-memory source and an in-memory storage upload.
#include "respaldo/jobs/pipeline.hpp"

#include <catch2/catch.hpp>

#include "jobs/pipeline_harness.hpp"

using namespace respaldo::test::pipeline;

TEST_CASE("a stream that is an exact multiple of the chunk size", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  harness h(make_bytes(chunk * 3));
  auto r = h.run_exact(chunk);
  REQUIRE(r);
  CHECK(r->size == chunk * 3);
  CHECK(r->sha256 == respaldo::sha256_hex(h.src.data));
  CHECK(r->object.location == "mem/object");
  CHECK(r->bytes_sent == chunk * 3);
  CHECK(r->bytes_skipped == 0);
  CHECK(h.up.stored == h.src.data);
  // Every chunk but the last goes through write(); the last one is handed to finish().
  CHECK(h.up.writes == repeat(chunk, 2));
  REQUIRE(h.up.last_chunk);
  CHECK(*h.up.last_chunk == chunk);
  CHECK(h.up.finish_calls == 1);
  CHECK(h.up.abort_calls == 0);
  CHECK(h.finalizing_calls == 1);
  REQUIRE_FALSE(h.progress_seen.empty());
  CHECK(std::is_sorted(h.progress_seen.begin(), h.progress_seen.end()));
  CHECK(h.progress_seen.back() == chunk * 3);
}

TEST_CASE("one byte more or less than a multiple of the chunk size", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  SECTION("one more: the last chunk holds one byte") {
    harness h(make_bytes(chunk * 3 + 1));
    auto r = h.run_exact(chunk);
    REQUIRE(r);
    CHECK(h.up.writes == repeat(chunk, 3));
    CHECK(*h.up.last_chunk == 1);
    CHECK(h.up.stored == h.src.data);
    CHECK(r->size == chunk * 3 + 1);
  }
  SECTION("one less: the last chunk is one byte short") {
    harness h(make_bytes(chunk * 3 - 1));
    auto r = h.run_exact(chunk);
    REQUIRE(r);
    CHECK(h.up.writes == repeat(chunk, 2));
    CHECK(*h.up.last_chunk == chunk - 1);
    CHECK(h.up.stored == h.src.data);
  }
  SECTION("smaller than one chunk") {
    harness h(make_bytes(10));
    auto r = h.run_exact(chunk);
    REQUIRE(r);
    CHECK(h.up.writes.empty());
    CHECK(*h.up.last_chunk == 10);
    CHECK(h.up.stored == h.src.data);
  }
}

TEST_CASE("an empty backup is stored as an empty object", "[pipeline]") {
  harness h("");
  auto r = h.run(0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64);
  REQUIRE(r);
  CHECK(r->size == 0);
  CHECK(r->sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(h.up.writes.empty());
  REQUIRE(h.up.last_chunk);
  CHECK(*h.up.last_chunk == 0);
  CHECK(h.up.finish_calls == 1);
  CHECK(h.up.abort_calls == 0);
}

TEST_CASE("short reads from the source still make full chunks", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  harness h(make_bytes(chunk * 4 + 5));
  h.src.max_read = 7;
  auto r = h.run_exact(chunk);
  REQUIRE(r);
  CHECK(h.up.writes == repeat(chunk, 4));
  CHECK(*h.up.last_chunk == 5);
  CHECK(h.up.stored == h.src.data);
  CHECK(h.src.reads > 40);
}

TEST_CASE("fewer bytes than X-Size: size_mismatch giving both values", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  SECTION("ends inside a chunk") {
    harness h(make_bytes(100));
    auto r = h.run(101, respaldo::sha256_hex(h.src.data), chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::size_mismatch);
    CHECK_THAT(r.error().message, Catch::Contains("received 100 bytes") && Catch::Contains("101"));
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
    CHECK(h.finalizing_calls == 0);
  }
  SECTION("ends exactly at a chunk boundary") {
    harness h(make_bytes(chunk * 2));
    auto r = h.run(chunk * 2 + 10, respaldo::sha256_hex(h.src.data), chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::size_mismatch);
    CHECK_THAT(r.error().message, Catch::Contains(std::to_string(chunk * 2)) &&
                                      Catch::Contains(std::to_string(chunk * 2 + 10)));
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
  }
}

TEST_CASE("more bytes than X-Size: size_mismatch without reading the rest", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  SECTION("inside the first chunk") {
    harness h(make_bytes(11));
    auto r = h.run(10, respaldo::sha256_hex(h.src.data.substr(0, 10)), chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::size_mismatch);
    CHECK_THAT(r.error().message, Catch::Contains("11") && Catch::Contains("X-Size said 10"));
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
  }
  SECTION("X-Size on a chunk boundary, one extra byte") {
    harness h(make_bytes(chunk * 2 + 1));
    auto r = h.run(chunk * 2, respaldo::sha256_hex(h.src.data.substr(0, chunk * 2)), chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::size_mismatch);
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
    CHECK(h.up.stored.size() < chunk * 2);  // the last chunk never reached storage
  }
  SECTION("a long stream is cut at the first chunk past X-Size") {
    harness h(make_bytes(chunk * 100));
    auto r = h.run(chunk * 2 + 3, respaldo::sha256_hex("whatever"), chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::size_mismatch);
    CHECK(h.src.pos <= chunk * 3);
  }
}

TEST_CASE("checksum mismatch: abort, never finish, the last chunk held back", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  harness h(make_bytes(chunk * 3 + 20));
  const std::string wrong = respaldo::sha256_hex("other bytes");
  const std::string actual = respaldo::sha256_hex(h.src.data);
  auto r = h.run(h.src.data.size(), wrong, chunk);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::checksum_mismatch);
  CHECK_THAT(r.error().message, Catch::Contains(actual) && Catch::Contains(wrong));
  CHECK(h.up.finish_calls == 0);
  CHECK(h.up.abort_calls == 1);
  CHECK(h.finalizing_calls == 0);
  // Everything before the final chunk was stored; the final 20 bytes never were.
  CHECK(h.up.stored == h.src.data.substr(0, chunk * 3));
}

TEST_CASE("the final chunk is handed over only after the whole stream was read", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  for (std::size_t size : {chunk * 2, chunk * 2 + 9}) {
    harness h(make_bytes(size));
    auto r = h.run_exact(chunk);
    REQUIRE(r);
    CHECK(h.up.source_pos_at_finish == size);
    CHECK(h.up.stored.substr(0, size - *h.up.last_chunk) ==
          h.src.data.substr(0, size - *h.up.last_chunk));
  }
}

TEST_CASE("resuming: the committed prefix is hashed but not sent again", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  harness h(make_bytes(chunk * 3 + 10));
  SECTION("committed inside the second chunk") {
    h.up.committed_bytes = chunk + 20;
    auto r = h.run_exact(chunk);
    REQUIRE(r);
    CHECK(r->sha256 == respaldo::sha256_hex(h.src.data));
    CHECK(r->bytes_skipped == chunk + 20);
    CHECK(r->bytes_sent == h.src.data.size() - (chunk + 20));
    // The first chunk is not written at all, the second from its 21st byte on.
    CHECK(h.up.writes == std::vector<std::size_t>{chunk - 20, chunk});
    CHECK(*h.up.last_chunk == 10);
    CHECK(h.up.stored == h.src.data.substr(chunk + 20));
  }
  SECTION("everything committed: finish gets nothing more") {
    h.up.committed_bytes = h.src.data.size();
    auto r = h.run_exact(chunk);
    REQUIRE(r);
    CHECK(h.up.writes.empty());
    CHECK(*h.up.last_chunk == 0);
    CHECK(r->bytes_sent == 0);
    CHECK(r->bytes_skipped == h.src.data.size());
  }
  SECTION("a resumed stream with the wrong checksum still fails") {
    h.up.committed_bytes = chunk;
    auto r = h.run(h.src.data.size(), respaldo::sha256_hex("nope"), chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::checksum_mismatch);
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
  }
  SECTION("storage holding more than the backup is an error") {
    h.up.committed_bytes = h.src.data.size() + 1;
    auto r = h.run_exact(chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::storage_error);
    CHECK(h.up.abort_calls == 1);
  }
}

TEST_CASE("a storage write error fails with storage_error and aborts", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  harness h(make_bytes(chunk * 5));
  h.up.fail_write = 1;
  auto r = h.run_exact(chunk);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::storage_error);
  CHECK_THAT(r.error().message, Catch::Contains("disk on fire"));
  CHECK(h.up.finish_calls == 0);
  CHECK(h.up.abort_calls == 1);
  CHECK(h.up.writes.size() == 2);  // stopped at the failing write
}

TEST_CASE("a failing finish is a storage_error and the upload is aborted", "[pipeline]") {
  harness h(make_bytes(100));
  h.up.fail_finish = true;
  auto r = h.run_exact(64);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::storage_error);
  CHECK(h.up.abort_calls == 1);
}

TEST_CASE("a broken or stalled source fails with the bytes received so far", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  SECTION("connection closed mid-chunk") {
    harness h(make_bytes(chunk * 4));
    h.src.fail_at = chunk + 30;
    auto r = h.run_exact(chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::app_export_failed);
    CHECK_THAT(r.error().message, Catch::Contains(std::to_string(chunk + 30) + " bytes"));
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
  }
  SECTION("read timeout") {
    harness h(make_bytes(chunk * 4));
    h.src.fail_at = 10;
    h.src.fail_code = errc::timeout;
    auto r = h.run_exact(chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::app_timeout);
    CHECK_THAT(r.error().message, Catch::Contains("after 10 bytes"));
    CHECK(h.up.abort_calls == 1);
  }
}

TEST_CASE("cancellation through job_control", "[pipeline]") {
  constexpr std::size_t chunk = 64;
  SECTION("stopped between chunks") {
    harness h(make_bytes(chunk * 10));
    const fill_function fill = h.src.fill();
    const pipeline_expectation expected{h.src.data.size(), respaldo::sha256_hex(h.src.data)};
    const progress_function progress = [&](std::uint64_t received, bool) {
      if (received >= chunk * 2) h.control.stop(failure{errc::cancelled, "cancelled on request"});
    };
    const std::function<void()> on_finalizing = [] {};
    auto r = run_with_deadline(h.io, respaldo::run_pipeline(fill, h.up, expected, chunk, h.control,
                                                            progress, on_finalizing));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::cancelled);
    CHECK(r.error().message == "cancelled on request");
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
    CHECK(h.src.pos < h.src.data.size());
  }
  SECTION("a read waiting on a silent source is interrupted") {
    harness h(make_bytes(chunk * 10));
    h.src.stall_at = chunk * 2 + 5;
    asio::steady_timer later(h.io, std::chrono::milliseconds(50));
    later.async_wait([&](error_code) {
      h.control.stop(failure{errc::cancelled, "cancelled on request"});
    });
    const auto started = std::chrono::steady_clock::now();
    auto r = h.run_exact(chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::cancelled);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    CHECK(h.up.finish_calls == 0);
    CHECK(h.up.abort_calls == 1);
  }
  SECTION("stopped by a shutdown before the start: nothing is read, the upload is kept") {
    // The next process resumes an interrupted upload, so it is not aborted.
    harness h(make_bytes(chunk));
    h.control.stop(failure{errc::interrupted, "respaldo is shutting down"});
    auto r = h.run_exact(chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::interrupted);
    CHECK(h.src.reads == 0);
    CHECK(h.up.abort_calls == 0);
    CHECK(h.up.finish_calls == 0);
  }
  SECTION("cancelled before the start: the upload is aborted") {
    harness h(make_bytes(chunk));
    h.control.stop(failure{errc::cancelled, "cancelled on request"});
    auto r = h.run_exact(chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::cancelled);
    CHECK(h.up.abort_calls == 1);
  }
}

TEST_CASE("a chunk size of 0 is refused", "[pipeline]") {
  harness h(make_bytes(10));
  auto r = h.run_exact(0);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_argument);
}

TEST_CASE("an MD5 is computed in flight only for a backend that asks for one", "[pipeline]") {
  const std::string data = make_bytes(64 * 3 + 5);
  harness h(data);
  h.up.want_md5 = GENERATE(true, false);
  h.up.committed_bytes = GENERATE(0u, 128u);  // a resumed upload's prefix counts too
  REQUIRE(h.run_exact(64));
  CHECK(h.up.md5s ==
        (h.up.want_md5 ? std::vector{respaldo::md5_hex(data)} : std::vector<std::string>{}));
  CHECK(h.up.finish_calls_at_md5 == (h.up.want_md5 ? 0 : -1));  // handed over before finish()
  harness bad(data);
  bad.up.want_md5 = true;
  REQUIRE_FALSE(bad.run(data.size(), std::string(64, '0'), 64));
  CHECK(bad.up.md5s.empty());  // a checksum mismatch hands over nothing
}
