// Where backups are kept. The pipeline talks to this interface only; backends are the local
// directory (embedded default) and Google Drive.
//
// Upload protocol: begin() -> write() every chunk but the last -> finish(last chunk) publishes
// the object, or abort() leaves nothing behind. The caller calls finish() only after it has
// verified size and checksum, so a backend must not make anything visible before finish().
//
// Every operation returns an outcome whose failure carries its own human-readable detail (never a
// secret), so concurrent jobs sharing one backend never see each other's errors.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/core/error.hpp"
#include "respaldo/domain/backup.hpp"

namespace respaldo {

struct stored_object {
  std::string location;  // backend-specific: relative path, Drive file id
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;  // hex; empty when the backend does not know it
  std::string md5;     // hex; empty when unknown
  // The backend kept the object but could give no checksum to confirm it (Drive answering
  // without sha256Checksum and md5Checksum): the caller must not trust it until verified.
  bool unconfirmed = false;
  std::chrono::sys_seconds created_at{};
  std::map<std::string, std::string> properties;  // e.g. Drive appProperties
};

struct upload_request {
  std::string folder;  // the app's drive_folder_id
  std::string app;
  std::string job_id;
  std::string format;
  std::string name;  // object name, e.g. "mi-app-20261130T030000Z.pgdump"
  std::chrono::sys_seconds created_at{};
  std::uint64_t total_size = 0;  // from X-Size
  std::string sha256;            // from X-Checksum-SHA256, recorded as metadata
  std::string resume_state;      // from a previous process, to continue the same upload
};

class storage_upload {
 public:
  virtual ~storage_upload() = default;
  // Bytes the backend has durably accepted; a resumed upload may start above zero, and the
  // caller must then skip (but still hash) that prefix of the source.
  virtual std::uint64_t committed() const = 0;
  // Opaque text a restarted process can pass back in upload_request::resume_state.
  virtual std::string resume_state() const = 0;
  virtual boost::asio::awaitable<outcome<void>> write(boost::asio::const_buffer chunk) = 0;
  virtual boost::asio::awaitable<outcome<stored_object>> finish(
      boost::asio::const_buffer last_chunk) = 0;
  // A backend whose own confirmation may be only an MD5 (Drive without sha256Checksum) asks for
  // one: the caller then computes it in flight and hands it over before finish().
  virtual bool wants_md5() const { return false; }
  virtual void expect_md5(std::string /*hex*/) {}
  virtual boost::asio::awaitable<void> abort() = 0;
  // Interrupts a retry wait or request in flight (job cancellation, shutdown): the pending call
  // fails promptly. Backends whose calls are always short need not override it.
  virtual void cancel() {}
};

class storage_download {
 public:
  virtual ~storage_download() = default;
  virtual std::uint64_t size() const = 0;
  // Returns 0 at the end. After the open()'s cancellation slot is emitted, a pending read ends
  // promptly and later ones fail, with errc::cancelled.
  virtual boost::asio::awaitable<outcome<std::size_t>> read_some(
      boost::asio::mutable_buffer buf) = 0;
};

class storage {
 public:
  virtual ~storage() = default;
  virtual storage_kind kind() const = 0;
  // The chunk size the backend wants (every chunk but the last), 0 = any.
  virtual std::size_t chunk_granularity() const = 0;
  virtual boost::asio::awaitable<outcome<std::unique_ptr<storage_upload>>> begin(
      const upload_request& request) = 0;
  // errc::not_found when the object is gone. `cancel` (optional) interrupts the download's reads:
  // the download keeps a handler in the slot for its lifetime, so the signal must outlive it.
  virtual boost::asio::awaitable<outcome<std::unique_ptr<storage_download>>> open(
      const std::string& location, boost::asio::cancellation_slot cancel = {}) = 0;
  // Removing an object that is already gone succeeds.
  virtual boost::asio::awaitable<outcome<void>> remove(const std::string& location) = 0;
  // Objects respaldo created for `app` in `folder` (for reconciling the catalog).
  virtual boost::asio::awaitable<outcome<std::vector<stored_object>>> list(
      const std::string& folder, const std::string& app) = 0;
};

}  // namespace respaldo
