// The app contract as the runner and the prober see it: probe an app's capabilities, start its
// export, open a deferred export's download again. The HTTP implementation is `exporter`
// (make_contract_client); tests inject fakes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/core/error.hpp"

namespace respaldo {

struct app_record;
class job_control;
class http_client;

struct exporter_options {
  std::chrono::milliseconds poll_initial{2'000};  // without Retry-After
  std::chrono::milliseconds poll_max{60'000};
  std::size_t json_limit = 64 * 1024;
  // Origins besides the app's own a download may be fetched from ("host" or "host:port").
  std::vector<std::string> allowed_download_origins;
};

struct app_capabilities {
  std::string version;
  std::vector<std::string> types;
  std::optional<std::uint64_t> est_seconds;
  std::optional<std::uint64_t> est_size;
  boost::json::object raw;
};

// The bytes of an export, read from its first body byte on.
class export_body {
 public:
  virtual ~export_body() = default;
  // Short reads are fine; 0 is the end of the body. A failure's message says what broke
  // ("connection closed after N of M body bytes"); it may be empty.
  virtual boost::asio::awaitable<outcome<std::size_t>> fill(boost::asio::mutable_buffer b) = 0;
  // Interrupts a read in flight (the job was stopped).
  virtual void cancel() = 0;
};

// A backup stream positioned at the first body byte (or at `offset` for a re-opened download).
struct export_stream {
  std::unique_ptr<export_body> body;
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex
  std::string format;
  std::uint64_t offset = 0;
  std::string download_url;  // deferred exports: where the finished export can be read again
};

class contract_client {
 public:
  virtual ~contract_client() = default;

  // GET /backup/capabilities; `control` (optional) bounds it.
  virtual boost::asio::awaitable<outcome<app_capabilities>> probe(const app_record& app,
                                                                  job_control* control) = 0;
  // POST /backup/export, following a deferred export until its download starts; `on_progress`
  // is told what the export is doing (for the log).
  virtual boost::asio::awaitable<outcome<export_stream>> start(
      const app_record& app, job_control& control,
      std::function<void(const std::string& note)> on_progress) = 0;
  // Opens a deferred export's download again from `offset` (Range), to resume an upload.
  virtual boost::asio::awaitable<outcome<export_stream>> reopen(const app_record& app,
                                                                const std::string& download_url,
                                                                std::uint64_t offset,
                                                                job_control& control) = 0;
};

std::unique_ptr<contract_client> make_contract_client(http_client& client,
                                                      exporter_options options);

}  // namespace respaldo
