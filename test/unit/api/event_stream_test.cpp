#include "respaldo/api/event_stream.hpp"

#include <catch2/catch.hpp>

namespace respaldo {

TEST_CASE("event ring hands out increasing ids and resumes after one", "[events]") {
  event_ring ring(4, 100);
  CHECK(ring.last_id() == 100);
  CHECK(ring.push("job", "{\"n\":1}").id == 101);
  CHECK(ring.push("job", "{\"n\":2}").id == 102);
  auto all = ring.since(100);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].id == 101);
  auto after_first = ring.since(101);
  REQUIRE(after_first);
  REQUIRE(after_first->size() == 1);
  CHECK((*after_first)[0].data == "{\"n\":2}");
  auto none = ring.since(102);
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("event ring refuses a resume point it no longer holds or never handed out", "[events]") {
  event_ring ring(3, 0);
  for (int i = 0; i < 5; ++i) ring.push("job", std::to_string(i));  // ids 1..5; 3..5 kept
  CHECK(ring.size() == 3);
  CHECK_FALSE(ring.since(0));  // 1 and 2 are gone
  CHECK_FALSE(ring.since(1));
  auto from2 = ring.since(2);  // 3, 4, 5 are all still there
  REQUIRE(from2);
  CHECK(from2->size() == 3);
  CHECK_FALSE(ring.since(6));  // from the future (another process)
  event_ring later(3, 1000);   // a restarted process starts from a later clock
  CHECK_FALSE(later.since(5));
  auto fresh = later.since(1000);
  REQUIRE(fresh);
  CHECK(fresh->empty());
}

TEST_CASE("fan-out caps subscribers and delivers to each", "[events]") {
  event_fanout fan(2, 10);
  auto a = fan.subscribe();
  auto b = fan.subscribe();
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(fan.subscribe());  // full
  const stream_event e{7, "job", "{}"};
  auto woken = fan.deliver(e);
  CHECK(woken.size() == 2);
  CHECK(fan.take(*a).size() == 1);
  CHECK(fan.take(*a).empty());  // taken once
  CHECK(fan.take(*b).size() == 1);
  fan.unsubscribe(*a);
  CHECK(fan.subscribers() == 1);
  CHECK(fan.subscribe());  // room again
}

TEST_CASE("fan-out drops a subscriber that lags behind instead of buffering", "[events]") {
  event_fanout fan(4, 3);
  auto slow = fan.subscribe();
  auto quick = fan.subscribe();
  REQUIRE(slow);
  REQUIRE(quick);
  for (std::uint64_t i = 1; i <= 3; ++i) {
    fan.deliver(stream_event{i, "job", "{}"});
    CHECK(fan.take(*quick).size() == 1);
  }
  CHECK_FALSE(fan.dropped(*slow));
  auto woken = fan.deliver(stream_event{4, "job", "{}"});  // the slow one's 4th: over its bound
  CHECK(woken.size() == 2);                                // woken to notice it was dropped
  CHECK(fan.dropped(*slow));
  CHECK(fan.take(*slow).empty());  // its queue was freed
  CHECK_FALSE(fan.dropped(*quick));
  CHECK(fan.take(*quick).size() == 1);
  CHECK(fan.deliver(stream_event{5, "job", "{}"}).size() == 1);  // no longer fed
}

TEST_CASE("server-sent event framing and Last-Event-ID parsing", "[events]") {
  CHECK(format_sse(stream_event{42, "job", "{\"a\":1}"}) ==
        "id: 42\nevent: job\ndata: {\"a\":1}\n\n");
  CHECK(format_sse_heartbeat().front() == ':');
  CHECK(parse_last_event_id(std::string_view("1733280000000000")) == 1733280000000000u);
  CHECK_FALSE(parse_last_event_id(std::nullopt));
  CHECK_FALSE(parse_last_event_id(std::string_view("")));
  CHECK_FALSE(parse_last_event_id(std::string_view("12x")));
  CHECK_FALSE(parse_last_event_id(std::string_view("-1")));
  CHECK_FALSE(parse_last_event_id(std::string_view("99999999999999999999999")));
}

}  // namespace respaldo
