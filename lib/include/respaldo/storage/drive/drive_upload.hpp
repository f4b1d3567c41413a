// The Drive resumable-upload protocol as a state machine without I/O: it is told the bytes the
// caller holds and the answers Drive gave, and decides the next request (initiate a session, send
// bytes [offset, offset + length), query the session status, refresh the access token, wait) or
// that the upload is done or failed. drive_storage performs the requests; the unit tests step the
// machine by hand.
//
// Protocol facts it follows (see the project's Drive notes): 308 + `Range: bytes=0-N` means N + 1
// bytes are persisted (no Range: none), and the server may persist less than was sent: the rest
// is sent again from the caller's buffer; `200 + X-Http-Status-Code-Override: 308` is a 308; after
// a dropped connection or a 5xx the status is queried (`bytes */TOTAL`) before sending more; 404
// or 410 means the session is gone and a new one starts when the caller still holds the upload
// from byte 0; 429, 403 rateLimitExceeded/userRateLimitExceeded, 408 and 5xx are retried with
// exponential backoff and jitter, honouring Retry-After; 401 refreshes the token once;
// storageQuotaExceeded, a missing folder and other 4xx are not retried.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "respaldo/core/error.hpp"
#include "respaldo/storage/storage.hpp"

namespace respaldo {

// Every upload request but the last must carry a multiple of this many bytes.
inline constexpr std::size_t drive_chunk_granularity = 262144;

// Google's JSON error body: {"error":{"code":403,"message":"..","errors":[{"reason":".."}]}}.
struct google_error {
  unsigned status = 0;
  std::string reason;   // errors[0].reason ("" when absent)
  std::string message;  // error.message, cut short and without control characters
};
google_error parse_google_error(unsigned status, std::string_view body);

// "429 rateLimitExceeded: User Rate Limit Exceeded" / "HTTP 502" for messages.
std::string describe(const google_error& e);

// 429, 408, 5xx and 403 with a rate-limit reason: worth another try after a pause.
bool is_retryable(const google_error& e);
// 403 reasons that mean "over a quota or a cap": never retried now.
bool is_quota_reason(std::string_view reason);

// The advice that goes with storageQuotaExceeded.
std::string quota_advice();

struct drive_retry_policy {
  std::chrono::milliseconds base_delay{1000};
  std::chrono::milliseconds max_delay{32000};
  unsigned max_attempts = 8;  // consecutive failed tries of one request before giving up
  // A longer Retry-After ends the upload (drive_rate_limited) instead of sleeping through it.
  std::chrono::milliseconds max_retry_after{300000};
};

// Delay before retry number `attempt` (1-based): min(base * 2^(attempt-1), max) plus jitter up to
// min(base, 1 s) drawn from `random01` in [0, 1); at least `retry_after` when given.
std::chrono::milliseconds backoff_delay(const drive_retry_policy& policy, unsigned attempt,
                                        double random01,
                                        std::optional<std::chrono::milliseconds> retry_after = {});

// Retry-After in delta-seconds ("120"); nullopt for anything else (HTTP dates are not used by
// Google's APIs).
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

// Persisted length from a 308's Range header: "bytes=0-N" -> N + 1; no header -> 0; nullopt when
// malformed or not starting at 0.
std::optional<std::uint64_t> parse_upload_range(std::optional<std::string_view> header);

// The file resource of a finished upload or files.get/list: id, name, size (decimal string),
// md5Checksum, sha256Checksum, createdTime, appProperties. The error says what is wrong.
outcome<stored_object> parse_drive_file(std::string_view json);

// What a restarted process needs to continue an upload: the session URI, the acknowledged
// offset and what the upload was for (a different backup must not continue this session).
struct drive_resume_state {
  std::string session_uri;
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  std::string sha256;
};
std::string encode_resume_state(const drive_resume_state& s);
std::optional<drive_resume_state> decode_resume_state(std::string_view text);

// One Drive answer, as the machine needs it.
struct upload_response {
  unsigned status = 0;
  std::optional<std::string> range;            // Range
  std::optional<std::string> retry_after;      // Retry-After
  std::optional<std::string> status_override;  // X-Http-Status-Code-Override
  std::optional<std::string> location;         // Location (initiation)
  std::string body;                            // error JSON or the file resource
};

class resumable_upload {
 public:
  enum class step_kind {
    initiate,       // POST the initiation request; feed the answer to on_response
    send,           // PUT bytes [offset, offset + length) with Content-Range S-E/TOTAL
    query,          // PUT an empty body with Content-Range bytes */TOTAL
    refresh_token,  // get a new access token, then call next() again
    wait,           // sleep `delay`, then call next() again
    window_done,    // everything offered is persisted (and the window is not final)
    complete,       // Drive created the file; resource() holds it
    failed,         // error() says why
  };
  struct step {
    step_kind kind = step_kind::failed;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::chrono::milliseconds delay{0};
  };

  resumable_upload(std::uint64_t total, drive_retry_policy policy);

  // Continue a session a previous process started: the first request is a status query.
  void resume(std::string session_uri);

  // The caller holds bytes [begin, end) of the upload. `final` allows sending the last byte
  // (end must then be the total). Windows follow each other without gaps.
  void offer(std::uint64_t begin, std::uint64_t end, bool final);

  // The next thing to do. `random01` in [0, 1) draws the backoff jitter.
  step next(double random01);

  // The answer to the request next() asked for.
  void on_response(const upload_response& r);
  // That request got no answer: connection refused, reset, timed out, TLS failure...
  void on_transport_error(const boost::system::error_code& ec, std::string detail);
  // Ends the upload from outside (e.g. the token could not be refreshed).
  void fail(failure f);

  std::uint64_t total() const { return total_; }
  std::uint64_t persisted() const { return persisted_; }
  const std::string& session_uri() const { return session_; }
  bool has_session() const { return !session_.empty(); }
  bool complete() const { return state_ == state::complete; }
  bool failed() const { return state_ == state::failed; }
  const std::string& resource() const { return resource_; }
  const failure& error() const { return error_; }
  // Number of sessions started after the first one (404/410 restarts).
  unsigned session_restarts() const { return restarts_; }

 private:
  enum class state { active, complete, failed };
  enum class request { none, initiate, send, query };

  void on_session_started(const upload_response& r);
  void on_incomplete(request was, const upload_response& r);
  void on_refusal(request was, unsigned status, const upload_response& r);
  void on_session_lost(const google_error& e);
  void retry_later(const google_error& e, const upload_response& r);
  void fail_with(errc code, std::string message);

  std::uint64_t total_;
  drive_retry_policy policy_;
  state state_ = state::active;
  std::string session_;
  std::uint64_t persisted_ = 0;
  std::uint64_t window_begin_ = 0, window_end_ = 0;
  bool final_ = false;
  bool need_query_ = false;
  bool refresh_pending_ = false;
  bool refreshed_ = false;  // a refresh happened since the last answer that was not a 401
  request pending_ = request::none;
  std::uint64_t sent_end_ = 0;
  unsigned attempts_ = 0;  // consecutive failed tries
  unsigned transport_failures_ = 0;
  unsigned restarts_ = 0;
  bool waiting_backoff_ = false;  // pause before the next request
  std::optional<std::chrono::milliseconds> retry_after_;
  std::string resource_;
  failure error_;
};

}  // namespace respaldo
