// A storage backend in memory: objects by location, uploads that publish only at finish(),
// scripted failures of begin/remove/list, and downloads that can stall until cancelled.
#pragma once

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "respaldo/core/error.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo::test {

class fake_storage final : public storage {
 public:
  struct object {
    std::string bytes;
    std::string app;
    std::string folder;
    std::string name;
  };
  std::map<std::string, object> objects;  // by location
  int aborted = 0;
  int begun = 0;
  bool fail_begin = false;
  errc begin_error = errc::storage_error;  // the code fail_begin refuses with
  std::set<std::string> fail_remove;       // locations whose removal fails
  bool fail_list = false;
  bool fail_open = false;            // open() fails with storage_error (not not_found)
  bool unconfirmed_uploads = false;  // finish() says no checksum confirms the object
  bool stall_downloads = false;
  bool download_stalled = false;  // a download reached the stall
  std::string error = "the fake storage refused";
  // Called as an upload publishes its object ("finish") and as an app's folder is listed
  // ("list"), for tests that act (cancel a job) while storage is busy with that step.
  std::function<void(std::string_view step)> on_step;

  storage_kind kind() const override { return storage_kind::local; }
  std::size_t chunk_granularity() const override { return 0; }

  failure refusal(errc code = errc::storage_error) const {
    return failure{make_error_code(code), error};
  }

  boost::asio::awaitable<outcome<std::unique_ptr<storage_upload>>> begin(
      const upload_request& request) override {
    ++begun;
    if (fail_begin) co_return refusal(begin_error);
    co_return std::unique_ptr<storage_upload>(std::make_unique<upload>(*this, request));
  }

  boost::asio::awaitable<outcome<std::unique_ptr<storage_download>>> open(
      const std::string& location, boost::asio::cancellation_slot cancel) override {
    if (fail_open) co_return refusal();
    auto it = objects.find(location);
    if (it == objects.end()) co_return refusal(errc::not_found);
    co_return std::unique_ptr<storage_download>(
        std::make_unique<download>(*this, it->second.bytes, cancel));
  }

  boost::asio::awaitable<outcome<void>> remove(const std::string& location) override {
    if (fail_remove.count(location)) co_return refusal();
    objects.erase(location);
    co_return outcome<void>{};
  }

  boost::asio::awaitable<outcome<std::vector<stored_object>>> list(
      const std::string& folder, const std::string& app) override {
    if (on_step) on_step("list");
    if (fail_list) co_return refusal();
    std::vector<stored_object> out;
    for (const auto& [location, o] : objects)
      if (o.app == app && o.folder == folder) {
        stored_object s;
        s.location = location;
        s.name = o.name;
        s.size = o.bytes.size();
        out.push_back(std::move(s));
      }
    co_return out;
  }

 private:
  class upload final : public storage_upload {
   public:
    upload(fake_storage& s, upload_request r) : store_(s), request_(std::move(r)) {}
    std::uint64_t committed() const override { return 0; }
    std::string resume_state() const override { return ""; }
    boost::asio::awaitable<outcome<void>> write(boost::asio::const_buffer chunk) override {
      bytes_.append(static_cast<const char*>(chunk.data()), chunk.size());
      co_return outcome<void>{};
    }
    boost::asio::awaitable<outcome<stored_object>> finish(boost::asio::const_buffer last) override {
      bytes_.append(static_cast<const char*>(last.data()), last.size());
      const std::string location = request_.app + "/" + request_.name;
      store_.objects[location] = {bytes_, request_.app, request_.folder, request_.name};
      if (store_.on_step) store_.on_step("finish");
      stored_object o;
      o.location = location;
      o.name = request_.name;
      o.size = bytes_.size();
      o.unconfirmed = store_.unconfirmed_uploads;
      co_return o;
    }
    boost::asio::awaitable<void> abort() override {
      ++store_.aborted;
      co_return;
    }

   private:
    fake_storage& store_;
    upload_request request_;
    std::string bytes_;
  };

  class download final : public storage_download {
   public:
    download(fake_storage& s, std::string bytes, boost::asio::cancellation_slot cancel)
        : store_(s), bytes_(std::move(bytes)), slot_(cancel) {
      // Like a real backend: the handler lives as long as the download.
      if (slot_.is_connected())
        slot_.assign([this](boost::asio::cancellation_type) {
          cancelled_ = true;
          if (timer_) timer_->cancel();
        });
    }
    ~download() override {
      if (slot_.is_connected()) slot_.clear();
    }
    std::uint64_t size() const override { return bytes_.size(); }
    boost::asio::awaitable<outcome<std::size_t>> read_some(boost::asio::mutable_buffer b) override {
      if (cancelled_) co_return refusal_of(errc::cancelled);
      if (store_.stall_downloads && pos_ > 0) {
        store_.download_stalled = true;
        boost::asio::steady_timer t(co_await boost::asio::this_coro::executor,
                                    std::chrono::hours(1));
        timer_ = &t;
        if (!cancelled_) co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        timer_ = nullptr;
        co_return refusal_of(errc::cancelled);
      }
      // One byte at a time when stalling: the stall comes after the first read.
      std::size_t n = std::min(b.size(), bytes_.size() - pos_);
      if (store_.stall_downloads) n = std::min<std::size_t>(n, 1);
      std::memcpy(b.data(), bytes_.data() + pos_, n);
      pos_ += n;
      co_return n;
    }

   private:
    failure refusal_of(errc code) const { return store_.refusal(code); }

    fake_storage& store_;
    std::string bytes_;
    boost::asio::cancellation_slot slot_;
    std::size_t pos_ = 0;
    bool cancelled_ = false;
    boost::asio::steady_timer* timer_ = nullptr;
  };
};

}  // namespace respaldo::test
