// The outbox's retry schedule and what each answer means, without sockets nor waiting.
#include "respaldo/notify/delivery_plan.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace respaldo;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

sys_millis t0() {
  return sys_millis{milliseconds{1'700'000'000'000}};
}

}  // namespace

TEST_CASE("notification retries back off exponentially up to the cap, with bounded jitter",
          "[notify]") {
  notify_retry_policy p;
  p.backoff = {seconds(30), hours(1)};
  const auto now = t0() + minutes(1);
  CHECK(*next_delivery_attempt(p, t0(), now, 1, 0.0) == now + seconds(30));
  CHECK(*next_delivery_attempt(p, t0(), now, 2, 0.0) == now + seconds(60));
  CHECK(*next_delivery_attempt(p, t0(), now, 3, 0.0) == now + seconds(120));
  CHECK(*next_delivery_attempt(p, t0(), now, 8, 0.0) == now + hours(1));   // 30s * 128 capped
  CHECK(*next_delivery_attempt(p, t0(), now, 40, 0.0) == now + hours(1));  // no overflow
  // Jitter adds up to a quarter, never less than the plain delay.
  CHECK(*next_delivery_attempt(p, t0(), now, 1, 0.999) < now + milliseconds(37'500));
  CHECK(*next_delivery_attempt(p, t0(), now, 1, 0.5) == now + milliseconds(33'750));
  CHECK(*next_delivery_attempt(p, t0(), now, 8, 1.0) == now + minutes(75));
}

TEST_CASE("notification retries stop after the give-up horizon of the event", "[notify]") {
  notify_retry_policy p;
  p.backoff = {seconds(30), hours(1)};
  const auto created = t0();
  // 23 h in, a 1 h delay would land exactly at the horizon: still tried.
  CHECK(next_delivery_attempt(p, created, created + hours(23), 20, 0.0));
  // Past it: given up.
  CHECK_FALSE(next_delivery_attempt(p, created, created + hours(23) + seconds(1), 20, 0.0));
  CHECK_FALSE(next_delivery_attempt(p, created, created + hours(25), 1, 0.0));
  p.give_up_after = minutes(1);
  CHECK(next_delivery_attempt(p, created, created, 1, 0.0));
  CHECK_FALSE(next_delivery_attempt(p, created, created + seconds(31), 1, 0.0));
}

TEST_CASE("answers: 2xx delivers, 410 disables, everything else retries", "[notify]") {
  for (unsigned s : {200u, 201u, 202u, 204u, 299u})
    CHECK(judge_answer(s) == answer_verdict::delivered);
  CHECK(judge_answer(410) == answer_verdict::disable);
  for (unsigned s : {0u, 100u, 301u, 400u, 404u, 429u, 500u, 503u})
    CHECK(judge_answer(s) == answer_verdict::retry);
}
