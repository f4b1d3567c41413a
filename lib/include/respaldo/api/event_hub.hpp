// GET /api/events over sockets: the hub every live change goes through (an event_sink for the
// events of jobs, probes and staleness, plus each job row change), kept in a bounded ring for
// Last-Event-ID resume and fanned out to a capped number of text/event-stream responses with
// heartbeats. The decisions are in api/event_stream (sans-io); this adds timers and framing.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/domain/job.hpp"
#include "respaldo/domain/notifier.hpp"
#include "respaldo/http/message.hpp"

namespace respaldo {

class logger;

struct event_hub_options {
  std::chrono::milliseconds heartbeat{15'000};  // --events-heartbeat
  std::size_t max_subscribers = 32;             // --max-event-streams
  std::size_t max_queued = 1024;                // events one subscriber may lag behind
  std::size_t ring_capacity = 1024;             // events kept for Last-Event-ID resume
};

class event_hub final : public event_sink {
 public:
  event_hub(boost::asio::any_io_executor ex, event_hub_options options, logger& log);
  ~event_hub() override;
  event_hub(const event_hub&) = delete;
  event_hub& operator=(const event_hub&) = delete;

  // backup.*, verify.failed, app.unhealthy, app.healthy_again, ... (notifier.test is not shown).
  void publish(const event_record& event) override;
  // A job was queued, started, made progress, or ended: an event "job" with its JSON.
  void job_changed(const job_record& job);
  // An app was registered, changed or deleted: an event "app.changed" with {app}.
  void app_changed(const std::string& app);
  // Ends every stream (they finish cleanly) and refuses new ones: the start of a shutdown.
  void close();

  // The text/event-stream response, resuming after `last_event_id` when the ring still holds
  // what followed it; 503 too_many_event_streams when the subscribers are at their cap.
  http_response open_stream(std::optional<std::string_view> last_event_id);
  std::size_t subscribers() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace respaldo
