// A contract client in memory: each app answers with a scripted probe and export. The export's
// body can fail at an offset or stall until the job is stopped, like a silent socket.
#pragma once

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "respaldo/contract/client.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo::test {

struct scripted_export {
  std::string data = "backup bytes";
  std::optional<std::string> declared_sha256;  // default: the real digest of `data`
  std::optional<std::uint64_t> declared_size;  // default: data.size()
  std::string format = "tar";
  std::optional<std::size_t> fail_at;   // the body breaks after this many bytes
  std::optional<std::size_t> stall_at;  // the body waits here until cancelled
  std::optional<failure> probe_failure;
  std::optional<failure> start_failure;
};

class memory_body final : public export_body {
 public:
  explicit memory_body(const scripted_export& e) : script_(e) {}

  boost::asio::awaitable<outcome<std::size_t>> fill(boost::asio::mutable_buffer b) override {
    if (script_.fail_at && pos_ >= *script_.fail_at)
      co_return failure{make_error_code(errc::http_protocol_error),
                        "connection closed after " + std::to_string(pos_) + " body bytes"};
    if (script_.stall_at && pos_ >= *script_.stall_at) {
      stalled_ = true;
      boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
      timer_ = &t;
      if (!cancelled_) co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      timer_ = nullptr;
      co_return failure{make_error_code(errc::cancelled), ""};
    }
    std::size_t n = std::min(b.size(), script_.data.size() - pos_);
    if (script_.fail_at) n = std::min(n, *script_.fail_at - pos_);
    if (script_.stall_at) n = std::min(n, *script_.stall_at - pos_);
    std::memcpy(b.data(), script_.data.data() + pos_, n);
    pos_ += n;
    co_return n;
  }
  void cancel() override {
    cancelled_ = true;
    if (timer_) timer_->cancel();
  }
  bool stalled() const { return stalled_; }

 private:
  scripted_export script_;
  std::size_t pos_ = 0;
  bool cancelled_ = false;
  bool stalled_ = false;
  boost::asio::steady_timer* timer_ = nullptr;
};

class fake_contract final : public contract_client {
 public:
  std::map<std::string, scripted_export> apps;  // by app name
  int probes = 0;
  int starts = 0;
  int reopens = 0;
  std::string last_token;  // the token the runner handed over

  boost::asio::awaitable<outcome<app_capabilities>> probe(const app_record& app,
                                                          job_control*) override {
    ++probes;
    last_token = app.token;
    const auto& e = apps[app.name];
    if (e.probe_failure) co_return *e.probe_failure;
    app_capabilities caps;
    caps.version = "v1";
    caps.types = {e.format};
    co_return caps;
  }

  boost::asio::awaitable<outcome<export_stream>> start(
      const app_record& app, job_control&, std::function<void(const std::string&)>) override {
    ++starts;
    co_return open(app);
  }

  boost::asio::awaitable<outcome<export_stream>> reopen(const app_record& app, const std::string&,
                                                        std::uint64_t, job_control&) override {
    ++reopens;
    co_return open(app);
  }

 private:
  outcome<export_stream> open(const app_record& app) {
    const auto& e = apps[app.name];
    if (e.start_failure) return *e.start_failure;
    export_stream s;
    s.size = e.declared_size.value_or(e.data.size());
    s.sha256 = e.declared_sha256.value_or(sha256_hex(e.data));
    s.format = e.format;
    s.body = std::make_unique<memory_body>(e);
    return s;
  }
};

}  // namespace respaldo::test
