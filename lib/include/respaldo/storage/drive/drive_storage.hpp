// The Google Drive storage backend: resumable uploads into the app's folder (chunks sent straight
// from the pipeline's buffers, verified against Drive's sha256Checksum before they count), and the
// files API for downloads (alt=media), deletes and listing. Every call sends
// supportsAllDrives=true, so shared drives work without a flag.
//
// The protocol decisions live in resumable_upload (drive_upload.hpp); this class performs the
// requests through http_client (connection reuse, TLS, timeouts) with tokens from
// drive_token_source. Error details name what failed and what to do, never a token or a session
// URI.
#pragma once

#include <boost/system/result.hpp>
#include <memory>
#include <string>

#include "respaldo/storage/drive/drive_auth.hpp"
#include "respaldo/storage/drive/drive_upload.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {

class http_client;
class logger;

struct drive_storage_options {
  std::string api_url = "https://www.googleapis.com";  // base of /drive/v3 and /upload/drive/v3
  drive_retry_policy retry;
  logger* log = nullptr;
  // --drive-md5: the pipeline computes each upload's MD5 (about 1.3 s of CPU per GB) so that a
  // reply without sha256Checksum is still confirmed before cataloging. Without it such a backup
  // is cataloged unverified and verified at once by reading it back, like one with no checksum.
  bool md5_in_flight = false;
};

// The `q` of files.list for the backups of `app` in `folder` (quotes and backslashes escaped).
std::string drive_list_query(std::string_view folder, std::string_view app);
// Percent-encoding of a query parameter value (everything but RFC 3986 unreserved characters).
std::string query_encode(std::string_view value);

class drive_storage final : public storage {
 public:
  // Fails when api_url is not an absolute http(s) URL without a query.
  static outcome<std::unique_ptr<drive_storage>> create(http_client& client,
                                                        drive_token_source& tokens,
                                                        drive_storage_options options);
  ~drive_storage() override;

  storage_kind kind() const override { return storage_kind::drive; }
  std::size_t chunk_granularity() const override { return drive_chunk_granularity; }
  boost::asio::awaitable<outcome<std::unique_ptr<storage_upload>>> begin(
      const upload_request& request) override;
  boost::asio::awaitable<outcome<std::unique_ptr<storage_download>>> open(
      const std::string& location, boost::asio::cancellation_slot cancel = {}) override;
  boost::asio::awaitable<outcome<void>> remove(const std::string& location) override;
  boost::asio::awaitable<outcome<std::vector<stored_object>>> list(const std::string& folder,
                                                                   const std::string& app) override;

  struct impl;

 private:
  explicit drive_storage(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace respaldo
