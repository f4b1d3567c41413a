// The event hub over a real io_context with a body sink standing in for the socket: a stream
// that stops reading is dropped (not buffered for), close() ends streams cleanly, the cap refuses
// with 503 and frees a slot when a response is dropped unsent, and a resume replays from the ring.
#include "respaldo/api/event_hub.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <sstream>

#include "respaldo/core/log.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Takes the first `free_writes` writes at once; later ones wait until release().
class gated_sink final : public body_sink {
 public:
  gated_sink(asio::io_context& io, int free_writes) : gate_(io), free_(free_writes) {
    gate_.expires_at(asio::steady_timer::time_point::max());
  }
  asio::awaitable<error_code> write(asio::const_buffer data) override {
    text += std::string(static_cast<const char*>(data.data()), data.size());
    ++writes;
    if (writes > free_ && !released_)
      co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return error_code{};
  }
  void release() {
    released_ = true;
    gate_.cancel();
  }
  std::string text;
  int writes = 0;

 private:
  asio::steady_timer gate_;
  int free_;
  bool released_ = false;
};

struct running_stream {
  bool done = false;
  error_code result;
};

std::shared_ptr<running_stream> spawn(asio::io_context& io, http_response& res, body_sink& sink) {
  auto state = std::make_shared<running_stream>();
  auto body = res.stream;
  auto task = [body, &sink]() -> asio::awaitable<error_code> { co_return co_await body(sink); };
  auto on_done = [state](std::exception_ptr, error_code ec) {
    state->result = ec;
    state->done = true;
  };
  asio::co_spawn(io, task, on_done);
  return state;
}

template <class Pred>
bool run_until(asio::io_context& io, Pred pred) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred() && std::chrono::steady_clock::now() < until) {
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return pred();
}

job_record a_job(int n) {
  job_record j;
  j.id = "job-" + std::to_string(n);
  j.app = "mi-app";
  j.state = job_state::running;
  j.bytes_done = static_cast<std::uint64_t>(n);
  return j;
}

event_hub_options small() {
  event_hub_options o;
  o.heartbeat = std::chrono::seconds(30);
  o.max_subscribers = 2;
  o.max_queued = 4;
  o.ring_capacity = 16;
  return o;
}

}  // namespace

TEST_CASE("event hub: a stream that stops reading is dropped, not buffered for", "[events]") {
  asio::io_context io;
  std::ostringstream out;
  logger log(log_format::text, &out);
  event_hub hub(io.get_executor(), small(), log);
  auto res = hub.open_stream(std::nullopt);
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type") == "text/event-stream");
  gated_sink sink(io, 1);  // the ready frame goes through, then the client stops reading
  auto s = spawn(io, res, sink);
  REQUIRE(run_until(io, [&] { return sink.writes == 1; }));
  CHECK(sink.text.find("event: ready") != std::string::npos);
  hub.job_changed(a_job(1));
  REQUIRE(run_until(io, [&] { return sink.writes == 2; }));  // stuck in this write
  for (int i = 2; i <= 6; ++i) hub.job_changed(a_job(i));    // 5 > max_queued 4
  io.poll();
  CHECK_FALSE(s->done);
  sink.release();
  REQUIRE(run_until(io, [&] { return s->done; }));
  CHECK(s->result);  // an error: the connection is cut, the client resumes from the ring
  CHECK(sink.text.find("job-2") == std::string::npos);  // the backlog was freed, not sent
  CHECK(out.str().find("event stream dropped") != std::string::npos);
  res.stream = nullptr;  // the server drops the response after writing it: the slot is free
  io.poll();
  CHECK(hub.subscribers() == 0);
}

TEST_CASE("event hub: close ends open streams cleanly and refuses new ones", "[events]") {
  asio::io_context io;
  logger log(log_format::text, nullptr);
  event_hub hub(io.get_executor(), small(), log);
  auto res = hub.open_stream(std::nullopt);
  gated_sink sink(io, 100);
  auto s = spawn(io, res, sink);
  REQUIRE(run_until(io, [&] { return sink.writes == 1; }));
  hub.close();
  REQUIRE(run_until(io, [&] { return s->done; }));
  CHECK_FALSE(s->result);
  res.stream = nullptr;
  io.poll();
  CHECK(hub.subscribers() == 0);
  auto late = hub.open_stream(std::nullopt);
  CHECK(late.status == 503);
  CHECK(late.body.find("events_unavailable") != std::string::npos);
}

TEST_CASE("event hub: the cap refuses with 503 and a dropped response frees its slot", "[events]") {
  asio::io_context io;
  logger log(log_format::text, nullptr);
  event_hub hub(io.get_executor(), small(), log);
  auto a = hub.open_stream(std::nullopt);
  std::optional<http_response> b = hub.open_stream(std::nullopt);
  CHECK(hub.subscribers() == 2);
  auto full = hub.open_stream(std::nullopt);
  CHECK(full.status == 503);
  CHECK(full.body.find("too_many_event_streams") != std::string::npos);
  CHECK(full.header("Retry-After") == "5");
  b.reset();  // never sent (its header could not be written): the slot comes back
  CHECK(hub.subscribers() == 1);
  CHECK(hub.open_stream(std::nullopt).status == 200);
}

TEST_CASE("event hub: Last-Event-ID replays what followed it, heartbeats fill silence",
          "[events]") {
  asio::io_context io;
  logger log(log_format::text, nullptr);
  auto opts = small();
  opts.heartbeat = std::chrono::milliseconds(20);
  event_hub hub(io.get_executor(), opts, log);
  auto first = hub.open_stream(std::nullopt);
  gated_sink seen(io, 100);
  auto s = spawn(io, first, seen);
  REQUIRE(run_until(io, [&] { return seen.writes == 1; }));
  for (int i = 1; i <= 3; ++i) hub.job_changed(a_job(i));
  REQUIRE(run_until(io, [&] { return seen.text.find("job-3") != std::string::npos; }));
  REQUIRE(run_until(io, [&] { return seen.text.find(": heartbeat") != std::string::npos; }));
  const auto at = seen.text.find("id: ", seen.text.find("event: ready") + 1);
  REQUIRE(at != std::string::npos);
  const std::string first_job_id = seen.text.substr(at + 4, seen.text.find('\n', at) - at - 4);

  auto resumed = hub.open_stream(std::string_view(first_job_id));
  gated_sink again(io, 100);
  auto r = spawn(io, resumed, again);
  REQUIRE(run_until(io, [&] { return again.writes >= 1; }));
  CHECK(again.text.find("job-1") == std::string::npos);
  CHECK(again.text.find("job-2") != std::string::npos);
  CHECK(again.text.find("job-3") != std::string::npos);
  CHECK(again.text.find("event: ready") == std::string::npos);
  hub.close();
  REQUIRE(run_until(io, [&] { return s->done && r->done; }));
}

}  // namespace respaldo
