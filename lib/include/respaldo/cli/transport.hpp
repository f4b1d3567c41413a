// All the HTTP the client commands do, behind one small interface: a JSON exchange and a
// streamed, hashed download. The commands never see connections, so the implementation can move
// to the library's shared exchange helper without touching them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/cli/settings.hpp"

namespace respaldo::cli {

struct api_reply {
  bool reached = false;  // an HTTP answer arrived
  std::string failure;   // why not (connection, TLS, timeout, broken answer)
  unsigned status = 0;
  std::string reason;
  std::string body;
};

// What a download of a backup's content came to.
struct download_result {
  api_reply reply;             // failure before an answer, or a refusal (status and body)
  bool ok_status = false;      // a 200 whose body was (at least partly) read
  std::string header_problem;  // X-Size / X-Checksum-SHA256 missing or malformed
  std::uint64_t expected_size = 0;
  std::string expected_sha256;
  std::string format;
  std::uint64_t received = 0;
  bool complete = false;     // the body ended normally
  std::string sha256;        // of the received bytes, when complete
  std::string stream_error;  // why the body broke off
  std::string write_error;
};

// Requests to the server of `settings`, one at a time, each carrying the admin token.
class client_transport {
 public:
  virtual ~client_transport() = default;
  virtual api_reply call(std::string method, const std::string& path, std::string body,
                         std::string content_type) = 0;
  // Streams the body of a GET into `fd`, hashing it on the way (never held in memory).
  virtual download_result download(const std::string& path, int fd,
                                   const std::string& partial_path) = 0;

  // Follows job `job_id` live over GET /api/events: calls on_job with the job's JSON text once the
  // stream is open (read with GET /api/jobs/ID then, so no change is missed) and with the data of
  // every `job` event after it (of any job: the caller filters), until on_job returns false, the
  // stream ends or `deadline` passes. The reply says whether a stream was opened (reached, status
  // 200); without one the caller polls instead.
  virtual api_reply follow_job(const std::string& job_id,
                               const std::function<bool(const std::string& json)>& on_job,
                               std::optional<std::chrono::steady_clock::time_point> deadline) {
    (void)job_id, (void)on_job, (void)deadline;
    api_reply r;
    r.failure = "this transport cannot follow events";
    return r;
  }

  api_reply get(const std::string& path) { return call("GET", path, "", ""); }
};

// The transport over respaldo's http_client, on a private io_context.
std::unique_ptr<client_transport> make_http_transport(const client_settings& settings);

// Percent-encodes everything but RFC 3986 unreserved characters (path segments and query values).
std::string encode(std::string_view s);

}  // namespace respaldo::cli
