// Retry policy of job attempts: capped exponential growth plus bounded jitter, and verdicts.
#include "respaldo/plan/retry.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <limits>

namespace {

using std::chrono::milliseconds;

respaldo::retry_policy options(milliseconds base, milliseconds max) {
  return respaldo::retry_policy{base, max};
}

}  // namespace

TEST_CASE("retry delays double from the base delay", "[job_runner]") {
  const auto o = options(milliseconds(100), milliseconds(10'000));
  CHECK(respaldo::retry_delay(o, 1, 0.0) == milliseconds(100));
  CHECK(respaldo::retry_delay(o, 2, 0.0) == milliseconds(200));
  CHECK(respaldo::retry_delay(o, 3, 0.0) == milliseconds(400));
  CHECK(respaldo::retry_delay(o, 4, 0.0) == milliseconds(800));
  CHECK(respaldo::retry_delay(o, 7, 0.0) == milliseconds(6400));
}

TEST_CASE("retry delays are capped", "[job_runner]") {
  const auto o = options(milliseconds(100), milliseconds(1000));
  CHECK(respaldo::retry_delay(o, 4, 0.0) == milliseconds(800));
  CHECK(respaldo::retry_delay(o, 5, 0.0) == milliseconds(1000));
  CHECK(respaldo::retry_delay(o, 6, 0.0) == milliseconds(1000));
  CHECK(respaldo::retry_delay(o, 100, 0.0) == milliseconds(1000));
  CHECK(respaldo::retry_delay(o, std::numeric_limits<int>::max(), 0.0) == milliseconds(1000));
  // A cap below the base wins too.
  CHECK(respaldo::retry_delay(options(milliseconds(5000), milliseconds(300)), 1, 0.0) ==
        milliseconds(300));
  // The defaults: 5 s doubling up to 5 min.
  respaldo::retry_policy d;
  CHECK(respaldo::retry_delay(d, 1, 0.0) == milliseconds(5000));
  CHECK(respaldo::retry_delay(d, 2, 0.0) == milliseconds(10'000));
  CHECK(respaldo::retry_delay(d, 20, 0.0) == milliseconds(300'000));
}

TEST_CASE("jitter adds up to a quarter of the delay", "[job_runner]") {
  const auto o = options(milliseconds(1000), milliseconds(8000));
  for (int attempt = 1; attempt <= 6; ++attempt) {
    const auto plain = respaldo::retry_delay(o, attempt, 0.0);
    INFO("attempt " << attempt << ", plain " << plain.count() << " ms");
    CHECK(respaldo::retry_delay(o, attempt, 0.5).count() == plain.count() + plain.count() / 8);
    for (double r : {0.001, 0.25, 0.75, 0.999999}) {
      const auto d = respaldo::retry_delay(o, attempt, r);
      CHECK(d >= plain);
      CHECK(d.count() < plain.count() + plain.count() / 4);
    }
    // Out-of-range random values stay within the same bounds.
    for (double r : {-1.0, 2.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
      const auto d = respaldo::retry_delay(o, attempt, r);
      CHECK(d >= plain);
      CHECK(d.count() <= plain.count() + plain.count() / 4);
    }
  }
  // The cap applies before the jitter: at most 125% of the cap.
  CHECK(respaldo::retry_delay(o, 10, 0.999999) < milliseconds(10'000));
  CHECK(respaldo::retry_delay(o, 10, 0.999999) >= milliseconds(8000));
}

TEST_CASE("odd attempt numbers and a zero base", "[job_runner]") {
  const auto o = options(milliseconds(100), milliseconds(1000));
  CHECK(respaldo::retry_delay(o, 0, 0.0) == milliseconds(100));
  CHECK(respaldo::retry_delay(o, -3, 0.0) == milliseconds(100));
  const auto zero = options(milliseconds(0), milliseconds(1000));
  CHECK(respaldo::retry_delay(zero, 1, 0.9) == milliseconds(0));
  CHECK(respaldo::retry_delay(zero, std::numeric_limits<int>::max(), 0.9) == milliseconds(0));
}

TEST_CASE("judge_attempt: success, cancel, shutdown, transient and permanent failures",
          "[retry_policy]") {
  using respaldo::attempt_verdict;
  using respaldo::errc;
  using respaldo::judge_attempt;
  using respaldo::make_error_code;
  CHECK(judge_attempt({}, 1, 3, false) == attempt_verdict::succeeded);
  CHECK(judge_attempt(make_error_code(errc::cancelled), 1, 3, false) == attempt_verdict::cancelled);
  // A shutdown requeues without spending the attempt, even on the last one.
  CHECK(judge_attempt(make_error_code(errc::interrupted), 3, 3, true) == attempt_verdict::requeue);
  // Outside a shutdown an interruption is an ordinary transient failure.
  CHECK(judge_attempt(make_error_code(errc::interrupted), 1, 3, false) == attempt_verdict::retry);
  CHECK(judge_attempt(make_error_code(errc::app_unreachable), 2, 3, false) ==
        attempt_verdict::retry);
  CHECK(judge_attempt(make_error_code(errc::app_unreachable), 3, 3, false) ==
        attempt_verdict::failed);
  CHECK(judge_attempt(make_error_code(errc::verify_mismatch), 1, 3, false) ==
        attempt_verdict::failed);
  CHECK(judge_attempt(make_error_code(errc::app_unauthorized), 1, 3, true) ==
        attempt_verdict::failed);
}
