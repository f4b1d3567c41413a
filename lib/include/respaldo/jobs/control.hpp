// Cancellation of one running job: a cancel request or the job's deadline stops it, and the
// network operation it is waiting on (a socket read, a poll delay) is interrupted at once.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <optional>

#include "respaldo/core/error.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo {

class job_control {
 public:
  bool stopped() const { return reason_.has_value(); }
  const failure& reason() const { return *reason_; }

  void stop(failure why) {
    if (reason_) return;
    reason_ = std::move(why);
    if (connection_) connection_->cancel();
    if (timer_) timer_->cancel();
    if (on_stop_) on_stop_();
  }

  // The connection/timer the job is currently waiting on; detach before it is destroyed. Attaching
  // after stop() interrupts at once: a connection is cancelled, and a timer is made to expire now
  // (cancelling it would only affect a wait already pending).
  void attach(http_connection* c) {
    connection_ = c;
    if (reason_ && c) c->cancel();
  }
  void attach(boost::asio::steady_timer* t) {
    timer_ = t;
    if (reason_ && t) t->expires_at(boost::asio::steady_timer::time_point::min());
  }
  void detach_connection() { connection_ = nullptr; }
  void detach_timer() { timer_ = nullptr; }
  void on_stop(std::function<void()> f) { on_stop_ = std::move(f); }

 private:
  std::optional<failure> reason_;
  http_connection* connection_ = nullptr;
  boost::asio::steady_timer* timer_ = nullptr;
  std::function<void()> on_stop_;
};

}  // namespace respaldo
