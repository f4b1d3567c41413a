#include "respaldo/api/event_hub.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <map>

#include "respaldo/api/event_stream.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/http/problem.hpp"
#include "views.hpp"

namespace respaldo {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::system::error_code;

namespace {

// Ids continue from the wall clock in microseconds, so those of a previous process are older
// than this ring and a client resuming across a restart is told to reload.
std::uint64_t first_event_id() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

std::string event_json(const event_record& e) {
  json::object o;
  o["kind"] = to_string(e.kind);
  o["app"] = e.app;
  o["job_id"] = text_or_null(e.job_id);
  o["backup_id"] = text_or_null(e.backup_id);
  o["at"] = format_rfc3339_utc(e.at);
  if (e.error_code.empty())
    o["error"] = nullptr;
  else
    o["error"] = json::object{{"code", e.error_code}, {"message", e.error_message}};
  return json::serialize(o);
}

}  // namespace

struct event_hub::impl : std::enable_shared_from_this<impl> {
  // One open stream: it leaves the fan-out when the response is gone, also when its body was
  // never started (the header could not be written).
  struct subscription {
    subscription(std::shared_ptr<impl> h, subscriber_id i) : hub(std::move(h)), id(i) {}
    subscription(const subscription&) = delete;
    subscription& operator=(const subscription&) = delete;
    ~subscription() { hub->leave(id); }
    std::shared_ptr<impl> hub;
    subscriber_id id;
  };

  impl(asio::any_io_executor e, event_hub_options o, logger& l)
      : ex(std::move(e)),
        options(o),
        log(l),
        ring(o.ring_capacity, first_event_id()),
        fanout(o.max_subscribers, o.max_queued) {}

  asio::any_io_executor ex;
  event_hub_options options;
  logger& log;
  event_ring ring;
  event_fanout fanout;
  std::map<subscriber_id, std::unique_ptr<asio::steady_timer>> wakers;
  bool closed = false;

  void push(std::string type, std::string data) {
    if (closed) return;
    const auto& e = ring.push(std::move(type), std::move(data));
    for (auto id : fanout.deliver(e))
      if (auto it = wakers.find(id); it != wakers.end()) it->second->cancel();
  }

  void leave(subscriber_id id) {
    fanout.unsubscribe(id);
    wakers.erase(id);
  }

  // Writes what is queued for `id`, then waits for more or for the heartbeat; ends cleanly when
  // the hub closes, with an error (the connection is cut, the client reconnects with its
  // Last-Event-ID) when the subscriber fell too far behind or the client went away.
  asio::awaitable<error_code> run(std::shared_ptr<const subscription> sub, std::string first,
                                  body_sink& sink) {
    auto self = shared_from_this();
    const auto id = sub->id;
    if (auto ec = co_await sink.write(asio::buffer(first))) co_return ec;
    auto& timer = *wakers.at(id);
    while (!closed) {
      if (fanout.dropped(id)) {
        log.warn("event stream dropped: the client reads too slowly",
                 {{"queued_max", static_cast<std::uint64_t>(options.max_queued)}});
        co_return make_error_code(errc::conflict);
      }
      auto events = fanout.take(id);
      std::string out;
      for (const auto& e : events) out += format_sse(e);
      if (out.empty()) {
        timer.expires_after(options.heartbeat);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) continue;  // woken: something to send, or the hub closed
        out = format_sse_heartbeat();
      }
      if (auto ec = co_await sink.write(asio::buffer(out))) co_return ec;
    }
    co_return error_code{};
  }
};

event_hub::event_hub(asio::any_io_executor ex, event_hub_options options, logger& log)
    : impl_(std::make_shared<impl>(std::move(ex), options, log)) {}

event_hub::~event_hub() {
  close();
}

void event_hub::publish(const event_record& event) {
  if (event.kind == event_kind::notifier_test) return;
  impl_->push(std::string(to_string(event.kind)), event_json(event));
}

void event_hub::job_changed(const job_record& job) {
  impl_->push("job", json::serialize(api_detail::job_json(job_view{job, std::nullopt, false})));
}

void event_hub::app_changed(const std::string& app) {
  impl_->push("app.changed", json::serialize(json::object{{"app", app}}));
}

void event_hub::close() {
  impl_->closed = true;
  for (auto& [id, timer] : impl_->wakers) timer->cancel();
}

std::size_t event_hub::subscribers() const {
  return impl_->fanout.subscribers();
}

http_response event_hub::open_stream(std::optional<std::string_view> last_event_id) {
  auto& hub = *impl_;
  if (hub.closed)
    return problem(503, code_name(errc::events_unavailable), "respaldo is shutting down");
  auto id = hub.fanout.subscribe();
  if (!id) {
    auto res = problem(503, code_name(errc::too_many_event_streams),
                       "already " + std::to_string(hub.options.max_subscribers) +
                           " event streams are open (--max-event-streams); close one or retry");
    res.set_header("Retry-After", "5");
    return res;
  }
  hub.wakers.emplace(*id, std::make_unique<asio::steady_timer>(hub.ex));
  // The client's reconnection delay, then what it missed, or where it stands now.
  std::string first = "retry: 2000\n\n";
  const auto after = parse_last_event_id(last_event_id);
  auto missed = after ? hub.ring.since(*after) : std::nullopt;
  if (missed) {
    for (const auto& e : *missed) first += format_sse(e);
  } else {
    const std::string kind = last_event_id ? "reset" : "ready";
    first += format_sse(
        stream_event{hub.ring.last_id(), kind,
                     "{\"heartbeat_ms\":" + std::to_string(hub.options.heartbeat.count()) + "}"});
  }
  http_response res;
  res.set_header("Content-Type", "text/event-stream");
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  auto sub = std::make_shared<const impl::subscription>(impl_, *id);
  res.stream = [sub, first = std::move(first)](body_sink& sink) {
    return sub->hub->run(sub, first, sink);
  };
  return res;
}

}  // namespace respaldo
