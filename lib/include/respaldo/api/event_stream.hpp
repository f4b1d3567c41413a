// The sans-io core of GET /api/events (server-sent events): a bounded ring of recent events that
// a reconnecting client resumes from (Last-Event-ID), a fan-out to a capped number of subscribers
// whose queues are bounded (a subscriber that falls behind is dropped, never buffered without
// limit) and the text/event-stream framing. No Asio: api/event_hub drives it over sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace respaldo {

struct stream_event {
  std::uint64_t id = 0;
  std::string type;  // the SSE `event:` name: "job", "backup.stale", "app.unhealthy", ...
  std::string data;  // one line of JSON
};

class event_ring {
 public:
  // Ids start after `last_id` (a process starts them from its clock, so a client that resumes
  // across a restart holds an id older than the ring and is told to reload).
  event_ring(std::size_t capacity, std::uint64_t last_id);

  const stream_event& push(std::string type, std::string data);
  // The events after `after`, oldest first; nullopt when some of them have left the ring (or
  // `after` is not an id this ring handed out), so the client must reload its state.
  std::optional<std::vector<stream_event>> since(std::uint64_t after) const;
  std::uint64_t last_id() const { return last_id_; }
  std::size_t size() const { return events_.size(); }

 private:
  std::size_t capacity_;
  std::uint64_t first_id_;  // the id the first event of this ring got
  std::uint64_t last_id_;
  std::deque<stream_event> events_;
};

using subscriber_id = std::uint64_t;

class event_fanout {
 public:
  event_fanout(std::size_t max_subscribers, std::size_t max_queued);

  // nullopt when max_subscribers are already subscribed.
  std::optional<subscriber_id> subscribe();
  void unsubscribe(subscriber_id id);
  // Queues `e` for every subscriber; one whose queue is full is marked dropped (its queue is
  // freed). Returns the subscribers that have something new to read (to wake them).
  std::vector<subscriber_id> deliver(const stream_event& e);
  // What `id` has to send, oldest first (its queue is emptied).
  std::vector<stream_event> take(subscriber_id id);
  bool dropped(subscriber_id id) const;
  std::size_t subscribers() const { return subs_.size(); }
  std::size_t max_subscribers() const { return max_subscribers_; }

 private:
  struct subscriber {
    std::deque<stream_event> queue;
    bool dropped = false;
  };
  std::size_t max_subscribers_;
  std::size_t max_queued_;
  subscriber_id next_id_ = 1;
  std::map<subscriber_id, subscriber> subs_;
};

// "id: N\nevent: TYPE\ndata: JSON\n\n". `data` must hold no line break (JSON text has none).
std::string format_sse(const stream_event& e);
// A comment line that keeps proxies and clients from timing the stream out.
std::string format_sse_heartbeat();
// Last-Event-ID as sent back by a client: a decimal id, or nullopt when absent or malformed.
std::optional<std::uint64_t> parse_last_event_id(std::optional<std::string_view> header);

}  // namespace respaldo
