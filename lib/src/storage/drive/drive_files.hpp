// Private to the Drive backend: the state the storage, its uploads and its downloads share, and
// the files-API call with token refresh and retries.
#pragma once

#include <boost/asio/cancellation_signal.hpp>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "respaldo/core/log.hpp"
#include "respaldo/http/client/exchange.hpp"
#include "respaldo/storage/drive/drive_storage.hpp"

namespace respaldo {

namespace drive_detail {

inline constexpr std::string_view file_fields =
    "id,name,size,md5Checksum,sha256Checksum,appProperties,createdTime";
inline constexpr std::size_t small_body_limit = 1024 * 1024;
inline constexpr std::size_t list_body_limit = 32 * 1024 * 1024;

// Drive file ids are URL-safe base64-like strings; anything else never reaches a request target.
bool valid_file_id(std::string_view id);

// A refused connection or TLS setup, a cancel or a malformed request: retrying cannot help.
bool transport_fatal(const boost::system::error_code& ec);

}  // namespace drive_detail

struct drive_storage::impl {
  impl(http_client& c, drive_token_source& t, drive_storage_options o, parsed_url base);

  http_client& client;
  drive_token_source& tokens;
  drive_storage_options opts;
  parsed_url api;
  std::string prefix;  // path of api_url without the trailing '/'
  std::mt19937_64 rng{std::random_device{}()};

  double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  void warn(std::string_view what, std::initializer_list<log_field> fields) {
    if (opts.log) opts.log->warn(what, fields);
  }

  struct call_spec {
    std::string method = "GET";
    std::string target;
    std::vector<http_header_field> headers;
    std::string_view body;
    bool stream = false;  // on 200/206 return with the body unread (downloads)
    std::size_t limit = drive_detail::small_body_limit;
    unsigned max_attempts = 0;              // 0: the retry policy's
    boost::asio::cancellation_slot cancel;  // interrupts the request in flight
  };
  struct call_result {
    http_client_response_head head;
    std::string body;
    std::unique_ptr<http_connection> conn;  // set when streaming
  };

  // One files-API call: the token is added, a 401 refreshes it once, 429/403-rate/5xx and dropped
  // connections are retried with backoff. Any other answer goes back to the caller.
  boost::asio::awaitable<outcome<call_result>> call(const call_spec& spec);
  // DELETE a file; 404 counts as done.
  boost::asio::awaitable<outcome<void>> delete_file(const std::string& id);
  // files.get of the checksums, for a final answer that lacked sha256Checksum.
  boost::asio::awaitable<std::optional<stored_object>> get_file(const std::string& id);

 private:
  // One attempt: the answer, or the failure of a connection that gave none.
  boost::asio::awaitable<outcome<call_result>> send_once(const call_spec& spec,
                                                         const std::string& token);
};

// Starts (or resumes) an upload session; defined with the upload in drive_upload_io.cpp.
boost::asio::awaitable<outcome<std::unique_ptr<storage_upload>>> start_drive_upload(
    drive_storage::impl& s, const upload_request& request);

}  // namespace respaldo
