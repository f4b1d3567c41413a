// Cancellation of one running job: a cancel request, a shutdown or the job's deadline stops it.
// Stopping emits an Asio cancellation signal; whatever the job waits on meanwhile (a socket read,
// a poll delay, a storage request, a download) is bound to the signal's slot for that wait, so it
// is interrupted at once.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "respaldo/core/error.hpp"

namespace respaldo {

class job_control {
 public:
  bool stopped() const { return reason_.has_value(); }
  const failure& reason() const { return *reason_; }

  // The first reason wins; the operation bound to the slot (if any) is cancelled.
  void stop(failure why) {
    if (reason_) return;
    reason_ = std::move(why);
    signal_.emit(boost::asio::cancellation_type::terminal);
  }

  // A cancel request stops the job too, and decides its end even when another reason (a
  // shutdown, the deadline) stopped it first or the job completed meanwhile.
  void cancel(failure why) {
    cancel_ = why;
    stop(std::move(why));
  }
  const std::optional<failure>& cancel_request() const { return cancel_; }

  // For Asio operations: bind_cancellation_slot(control.slot(), token).
  boost::asio::cancellation_slot slot() { return signal_.slot(); }

 private:
  std::optional<failure> reason_;
  std::optional<failure> cancel_;
  boost::asio::cancellation_signal signal_;
};

// Runs `interrupt` if the job is stopped while this scope lives (at once when it was stopped
// already); the slot is cleared when the scope ends, so the action never outlives what it names.
class stop_scope {
 public:
  template <class F>
  stop_scope(job_control& control, F interrupt) : slot_(control.slot()) {
    if (control.stopped()) {
      interrupt();
      return;
    }
    slot_.assign([f = std::move(interrupt)](boost::asio::cancellation_type) mutable { f(); });
    assigned_ = true;
  }
  ~stop_scope() {
    if (assigned_) slot_.clear();
  }
  stop_scope(const stop_scope&) = delete;
  stop_scope& operator=(const stop_scope&) = delete;

 private:
  boost::asio::cancellation_slot slot_;
  bool assigned_ = false;
};

// Stops `control` with `why` once `limit` has passed; disarmed when destroyed. One for the job
// deadline of the runner and the probe timeout of the prober.
class stop_after {
 public:
  stop_after(boost::asio::any_io_executor ex, std::chrono::milliseconds limit,
             std::shared_ptr<job_control> control, failure why)
      : timer_(std::move(ex), limit) {
    auto expired = [control = std::move(control),
                    why = std::move(why)](const boost::system::error_code& ec) {
      if (!ec) control->stop(why);
    };
    timer_.async_wait(std::move(expired));
  }
  ~stop_after() { timer_.cancel(); }
  stop_after(const stop_after&) = delete;
  stop_after& operator=(const stop_after&) = delete;

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace respaldo
