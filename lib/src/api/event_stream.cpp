#include "respaldo/api/event_stream.hpp"

#include <charconv>

namespace respaldo {

event_ring::event_ring(std::size_t capacity, std::uint64_t last_id)
    : capacity_(capacity == 0 ? 1 : capacity), first_id_(last_id + 1), last_id_(last_id) {}

const stream_event& event_ring::push(std::string type, std::string data) {
  if (events_.size() == capacity_) events_.pop_front();
  events_.push_back(stream_event{++last_id_, std::move(type), std::move(data)});
  return events_.back();
}

std::optional<std::vector<stream_event>> event_ring::since(std::uint64_t after) const {
  // An id from before this ring began or beyond its newest was not handed out by it.
  if (after + 1 < first_id_ || after > last_id_) return std::nullopt;
  const std::uint64_t oldest = events_.empty() ? last_id_ + 1 : events_.front().id;
  if (after + 1 < oldest) return std::nullopt;  // events after `after` were pushed out
  std::vector<stream_event> out;
  for (const auto& e : events_)
    if (e.id > after) out.push_back(e);
  return out;
}

event_fanout::event_fanout(std::size_t max_subscribers, std::size_t max_queued)
    : max_subscribers_(max_subscribers), max_queued_(max_queued == 0 ? 1 : max_queued) {}

std::optional<subscriber_id> event_fanout::subscribe() {
  if (subs_.size() >= max_subscribers_) return std::nullopt;
  const auto id = next_id_++;
  subs_.emplace(id, subscriber{});
  return id;
}

void event_fanout::unsubscribe(subscriber_id id) {
  subs_.erase(id);
}

std::vector<subscriber_id> event_fanout::deliver(const stream_event& e) {
  std::vector<subscriber_id> woken;
  for (auto& [id, s] : subs_) {
    if (s.dropped) continue;
    if (s.queue.size() >= max_queued_) {
      s.dropped = true;
      s.queue.clear();
    } else {
      s.queue.push_back(e);
    }
    woken.push_back(id);
  }
  return woken;
}

std::vector<stream_event> event_fanout::take(subscriber_id id) {
  std::vector<stream_event> out;
  auto it = subs_.find(id);
  if (it == subs_.end()) return out;
  out.assign(std::make_move_iterator(it->second.queue.begin()),
             std::make_move_iterator(it->second.queue.end()));
  it->second.queue.clear();
  return out;
}

bool event_fanout::dropped(subscriber_id id) const {
  auto it = subs_.find(id);
  return it == subs_.end() || it->second.dropped;
}

std::string format_sse(const stream_event& e) {
  std::string out;
  out.reserve(e.type.size() + e.data.size() + 40);
  out += "id: ";
  out += std::to_string(e.id);
  out += "\nevent: ";
  out += e.type;
  out += "\ndata: ";
  out += e.data;
  out += "\n\n";
  return out;
}

std::string format_sse_heartbeat() {
  return ": heartbeat\n\n";
}

std::optional<std::uint64_t> parse_last_event_id(std::optional<std::string_view> header) {
  if (!header || header->empty() || header->size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  const auto* end = header->data() + header->size();
  auto [p, ec] = std::from_chars(header->data(), end, v);
  if (ec != std::errc{} || p != end) return std::nullopt;
  return v;
}

}  // namespace respaldo
