// Drive uploads: a resumable session driven by the resumable_upload state machine, each chunk
// sent straight from the pipeline's buffer and verified against Drive's checksums at the end.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "drive_files.hpp"
#include "respaldo/core/text.hpp"
#include "respaldo/core/time_format.hpp"

namespace respaldo {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

class drive_upload final : public storage_upload {
 public:
  drive_upload(drive_storage::impl& s, upload_request req)
      : s_(s), req_(std::move(req)), machine_(req_.total_size, s.opts.retry) {
    req_.sha256 = lower(req_.sha256);
  }
  drive_upload(const drive_upload&) = delete;
  drive_upload& operator=(const drive_upload&) = delete;

  ~drive_upload() override = default;

  std::uint64_t committed() const override { return machine_.persisted(); }

  void cancel() override {
    cancelled_ = true;
    if (waiting_) waiting_->cancel();
    stop_request_.emit(asio::cancellation_type::terminal);
  }

  // Drive may answer without sha256Checksum; its md5Checksum is then compared with this.
  bool wants_md5() const override { return s_.opts.md5_in_flight; }
  void expect_md5(std::string hex) override { expected_md5_ = lower(hex); }

  std::string resume_state() const override {
    if (!machine_.has_session() || machine_.complete() || machine_.failed()) return "";
    drive_resume_state st;
    st.session_uri = machine_.session_uri();
    st.offset = machine_.persisted();
    st.total = req_.total_size;
    st.sha256 = req_.sha256;
    return encode_resume_state(st);
  }

  // Starts a new session, or continues the one `previous` describes when it is for this upload.
  asio::awaitable<outcome<void>> start(const std::string& previous) {
    if (!previous.empty()) {
      auto st = decode_resume_state(previous);
      if (st && st->total == req_.total_size && lower(st->sha256) == req_.sha256 &&
          same_origin(st->session_uri)) {
        machine_.resume(st->session_uri);
      } else {
        s_.warn("drive upload not resumed: the saved session is for other content",
                {{"job", req_.job_id}});
        if (st && same_origin(st->session_uri)) co_await cancel_session(st->session_uri);
      }
    }
    auto r = co_await run(nullptr, 0, 0, false);
    next_offset_ = machine_.persisted();
    co_return r;
  }

  asio::awaitable<outcome<void>> write(asio::const_buffer chunk) override {
    const std::uint64_t begin = next_offset_;
    auto r =
        co_await run(static_cast<const char*>(chunk.data()), begin, begin + chunk.size(), false);
    if (r) next_offset_ = begin + chunk.size();
    co_return r;
  }

  asio::awaitable<outcome<stored_object>> finish(asio::const_buffer last) override {
    const std::uint64_t begin = next_offset_;
    const std::uint64_t end = begin + last.size();
    if (end != req_.total_size)
      co_return fail(errc::size_mismatch, "the upload ends at byte " + std::to_string(end) +
                                              " but " + std::to_string(req_.total_size) +
                                              " were announced");
    if (auto r = co_await run(static_cast<const char*>(last.data()), begin, end, true); !r)
      co_return r.error();
    next_offset_ = end;
    if (!machine_.complete())
      co_return fail(errc::drive_upload_failed, "Drive did not confirm the end of the upload");
    auto file = parse_drive_file(machine_.resource());
    if (!file)
      co_return fail(errc::drive_upload_failed,
                     "Drive's answer to the last chunk cannot be read: " + file.error().message);
    finished_ = true;
    co_return co_await verify(std::move(*file));
  }

 private:
  static failure fail(errc code, std::string message) {
    return failure{make_error_code(code), std::move(message)};
  }

  // What is wrong with Drive's account of the file, or "" when nothing is. SHA-256 when Drive
  // gives one; else its MD5 against the one computed in flight; else it cannot be confirmed.
  std::string mismatch(stored_object& file) const {
    if (file.size != req_.total_size)
      return "Drive stored " + std::to_string(file.size) + " bytes but " +
             std::to_string(req_.total_size) + " were uploaded";
    if (!file.sha256.empty()) {
      if (file.sha256 != req_.sha256)
        return "Drive reports SHA-256 " + file.sha256 +
               " for the uploaded file but the backup's is " + req_.sha256;
      return "";
    }
    if (!file.md5.empty() && !expected_md5_.empty()) {
      if (file.md5 != expected_md5_)
        return "Drive reports MD5 " + file.md5 + " (and no SHA-256) for the uploaded file but " +
               "the MD5 of the bytes sent is " + expected_md5_;
      return "";
    }
    file.unconfirmed = true;
    return "";
  }

  // Checks what Drive stored against what was sent; a file that does not match is deleted.
  asio::awaitable<outcome<stored_object>> verify(stored_object found) {
    stored_object* file = &found;
    file_id_ = file->location;
    if (file->sha256.empty()) {
      // Drive may compute checksums a little later: ask once more.
      auto again = co_await s_.get_file(file->location);
      if (again && again->size == file->size) {
        file->sha256 = again->sha256;
        if (file->md5.empty()) file->md5 = again->md5;
      }
    }
    const std::string problem = mismatch(*file);
    if (file->unconfirmed)
      s_.warn("Drive gave no checksum for the uploaded file; it is kept unverified",
              {{"job", req_.job_id}, {"file", file->location}});
    if (!problem.empty()) {
      auto removed = co_await s_.delete_file(file->location);
      file_id_.clear();
      co_return fail(
          errc::drive_checksum_mismatch,
          problem + (removed ? "; the file was deleted"
                             : "; deleting Drive file " + file->location + " failed too (" +
                                   removed.error().message + "): delete it by hand"));
    }
    if (file->name.empty()) file->name = req_.name;
    if (file->created_at == std::chrono::sys_seconds{}) file->created_at = req_.created_at;
    co_return std::move(*file);
  }

 public:
  asio::awaitable<void> abort() override {
    if (finished_) co_return;  // finish() verified the file or deleted it already
    finished_ = true;
    if (machine_.complete()) {
      // A session a previous process had completed: the file exists, and must go.
      auto file = parse_drive_file(machine_.resource());
      if (file) {
        auto removed = co_await s_.delete_file(file->location);
        if (!removed)
          s_.warn("could not delete an abandoned Drive file",
                  {{"job", req_.job_id},
                   {"file", file->location},
                   {"detail", removed.error().message}});
      }
      co_return;
    }
    if (!machine_.has_session()) co_return;
    // Cancelling the session makes sure nothing of it is ever published.
    co_await cancel_session(machine_.session_uri());
  }

 private:
  asio::awaitable<void> cancel_session(const std::string& uri) {
    auto url = parse_http_url(uri);
    if (!url) co_return;
    drive_storage::impl::call_spec spec;
    spec.method = "DELETE";
    spec.target = url->target;
    spec.max_attempts = 2;  // best effort: an unfinished session never becomes a file anyway
    auto r = co_await s_.call(spec);
    if (!r)
      s_.warn("could not cancel a Drive upload session",
              {{"job", req_.job_id}, {"detail", r.error().message}});
  }

  bool same_origin(const std::string& uri) const {
    auto u = parse_http_url(uri);
    return u && u->origin == s_.api.origin;
  }

  // Drives the machine until the offered window [begin, end) is persisted (or, when final, the
  // file exists), or the upload fails. `data` holds the window's bytes.
  asio::awaitable<outcome<void>> run(const char* data, std::uint64_t begin, std::uint64_t end,
                                     bool final) {
    machine_.offer(begin, end, final);
    asio::steady_timer timer(s_.client.get_executor());
    for (;;) {
      if (cancelled_) co_return fail(errc::cancelled, "the upload was interrupted");
      const auto st = machine_.next(s_.random01());
      switch (st.kind) {
        case resumable_upload::step_kind::window_done:
        case resumable_upload::step_kind::complete:
          co_return outcome<void>{};
        case resumable_upload::step_kind::failed:
          co_return machine_.error();
        case resumable_upload::step_kind::refresh_token:
          s_.tokens.invalidate(token_);
          break;
        case resumable_upload::step_kind::wait:
          s_.warn("drive upload paused before retrying",
                  {{"job", req_.job_id},
                   {"persisted", machine_.persisted()},
                   {"delay_ms", static_cast<std::int64_t>(st.delay.count())}});
          timer.expires_after(st.delay);
          waiting_ = &timer;
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          waiting_ = nullptr;
          break;
        case resumable_upload::step_kind::initiate:
          co_await initiate();
          break;
        case resumable_upload::step_kind::send: {
          const std::string_view bytes(data + (st.offset - begin),
                                       static_cast<std::size_t>(st.length));
          co_await send(bytes, st.offset);
          break;
        }
        case resumable_upload::step_kind::query: {
          const std::string_view nothing;
          co_await send(nothing, 0);
          break;
        }
      }
    }
  }

  asio::awaitable<bool> fresh_token() {
    auto tok = co_await s_.tokens.token();
    if (!tok) {
      machine_.fail(tok.error());
      co_return false;
    }
    token_ = std::move(*tok);
    co_return true;
  }

  asio::awaitable<void> initiate() {
    if (!co_await fresh_token()) co_return;
    json::object props{
        {"respaldo", "1"}, {"app", req_.app}, {"job_id", req_.job_id}, {"sha256", req_.sha256}};
    json::object meta{{"name", req_.name},
                      {"parents", json::array{json::value(req_.folder)}},
                      {"mimeType", "application/octet-stream"},
                      {"appProperties", std::move(props)}};
    if (req_.created_at != std::chrono::sys_seconds{})
      meta["createdTime"] = format_rfc3339_utc(req_.created_at);
    const std::string body = json::serialize(meta);
    http_client_request req;
    req.method = "POST";
    req.target = s_.prefix +
                 "/upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true&fields=" +
                 query_encode(drive_detail::file_fields);
    req.headers = {{"Authorization", "Bearer " + token_},
                   {"Content-Type", "application/json; charset=UTF-8"},
                   {"X-Upload-Content-Type", "application/octet-stream"},
                   {"X-Upload-Content-Length", std::to_string(req_.total_size)}};
    req.body = body;
    co_await exchange(s_.api.origin, req);
    if (machine_.has_session() && !session_checked()) return_bad_session();
  }

  // A session URI on another origin would receive the access token: refuse it.
  bool session_checked() {
    if (machine_.session_uri() == checked_session_) return true;
    auto u = parse_http_url(machine_.session_uri());
    if (!u || !(u->origin == s_.api.origin)) return false;
    checked_session_ = machine_.session_uri();
    session_url_ = std::move(*u);
    return true;
  }
  void return_bad_session() {
    machine_.fail(failure{make_error_code(errc::drive_upload_failed),
                          "Drive's upload session URI is not on " + to_string(s_.api.origin)});
  }

  // A chunk (bytes from `offset`), or with no bytes a status query.
  asio::awaitable<void> send(std::string_view bytes, std::uint64_t offset) {
    if (!session_checked()) {
      return_bad_session();
      co_return;
    }
    if (!co_await fresh_token()) co_return;
    const std::string total = std::to_string(req_.total_size);
    std::string range;
    if (bytes.empty())
      range = "bytes */" + total;
    else
      range = "bytes " + std::to_string(offset) + "-" + std::to_string(offset + bytes.size() - 1) +
              "/" + total;
    http_client_request req;
    req.method = "PUT";
    req.target = session_url_.target;
    req.headers = {{"Authorization", "Bearer " + token_},
                   {"Content-Range", range},
                   {"X-GUploader-No-308", "yes"}};
    req.body = bytes;  // straight from the pipeline's buffer
    co_await exchange(session_url_.origin, req);
  }

  asio::awaitable<void> exchange(const http_origin& origin, const http_client_request& req) {
    if (cancelled_) co_return;
    exchange_options xo;
    xo.body_limit = drive_detail::small_body_limit;
    xo.retry_stale = false;  // the state machine counts and retries dropped connections
    xo.cancel = stop_request_.slot();
    auto answer = co_await http_exchange(s_.client, origin, req, xo);
    if (!answer) {
      machine_.on_transport_error(answer.error().code, answer.error().message);
      co_return;
    }
    const http_client_response_head& head = answer->head;
    upload_response r;
    r.status = head.status;
    auto copy = [&head](std::string_view name) -> std::optional<std::string> {
      auto v = head.header(name);
      return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
    };
    r.range = copy("Range");
    r.retry_after = copy("Retry-After");
    r.status_override = copy("X-Http-Status-Code-Override");
    r.location = copy("Location");
    if (r.location) {
      // A relative Location is resolved against the request; the machine keeps absolute URIs.
      parsed_url here{origin, req.target};
      if (auto abs = resolve_url(here, *r.location)) r.location = to_string(*abs);
    }
    r.body = std::move(answer->body);
    machine_.on_response(r);
  }

  drive_storage::impl& s_;
  upload_request req_;
  resumable_upload machine_;
  // Job cancellation: interrupts a backoff wait or the request in flight.
  bool cancelled_ = false;
  asio::steady_timer* waiting_ = nullptr;
  asio::cancellation_signal stop_request_;  // cancels the request in flight
  std::string expected_md5_;                // computed in flight by the pipeline, lowercase hex
  std::uint64_t next_offset_ = 0;           // first byte the next write() or finish() hands over
  std::string token_;
  std::string checked_session_;
  parsed_url session_url_;
  std::string file_id_;
  bool finished_ = false;
};

}  // namespace

asio::awaitable<outcome<std::unique_ptr<storage_upload>>> start_drive_upload(
    drive_storage::impl& s, const upload_request& request) {
  auto up = std::make_unique<drive_upload>(s, request);
  const std::string previous = request.resume_state;
  if (auto started = co_await up->start(previous); !started) co_return started.error();
  co_return std::unique_ptr<storage_upload>(std::move(up));
}

}  // namespace respaldo
