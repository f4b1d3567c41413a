#include "respaldo/storage/drive/drive_storage.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <optional>
#include <random>
#include <vector>

#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::system::error_code;

namespace {

constexpr std::string_view file_fields =
    "id,name,size,md5Checksum,sha256Checksum,appProperties,createdTime";
constexpr std::size_t small_body_limit = 1024 * 1024;
constexpr std::size_t list_body_limit = 32 * 1024 * 1024;

// Drive file ids are URL-safe base64-like strings; anything else never reaches a request target.
bool valid_file_id(std::string_view id) {
  return !id.empty() && id.size() <= 256 && std::all_of(id.begin(), id.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '_';
  });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool transport_fatal(const error_code& ec) {
  return ec == errc::cancelled || ec == errc::tls_error || ec == errc::invalid_argument;
}

}  // namespace

std::string query_encode(std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3 / 2);
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string drive_list_query(std::string_view folder, std::string_view app) {
  auto literal = [](std::string_view v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  return literal(folder) +
         " in parents and trashed = false and appProperties has { key='app' and value=" +
         literal(app) + " }";
}

// ---------------------------------------------------------------------------------------------
// Shared state

struct drive_storage::impl {
  impl(http_client& c, drive_token_source& t, drive_storage_options o, parsed_url base)
      : client(c), tokens(t), opts(std::move(o)), api(std::move(base)) {
    prefix = api.target;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  }

  http_client& client;
  drive_token_source& tokens;
  drive_storage_options opts;
  parsed_url api;
  std::string prefix;  // path of api_url without the trailing '/'
  std::string last_error;
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
    std::size_t limit = small_body_limit;
    unsigned max_attempts = 0;  // 0: the retry policy's
  };
  struct call_result {
    http_client_response_head head;
    std::string body;
    std::unique_ptr<http_connection> conn;  // set when streaming
  };

  // One files-API call: the token is added, a 401 refreshes it once, 429/403-rate/5xx and dropped
  // connections are retried with backoff. Any other answer goes back to the caller.
  asio::awaitable<outcome<call_result>> call(const call_spec& spec) {
    drive_retry_policy policy = opts.retry;
    if (spec.max_attempts > 0) policy.max_attempts = spec.max_attempts;
    bool refreshed = false;
    unsigned attempts = 0, drops = 0;
    asio::steady_timer timer(client.get_executor());
    for (;;) {
      auto tok = co_await tokens.token();
      if (!tok) co_return tok.error();
      http_client_request req;
      req.method = spec.method;
      req.target = spec.target;
      req.headers.reserve(spec.headers.size() + 1);
      req.headers.push_back({"Authorization", "Bearer " + *tok});
      for (const auto& h : spec.headers) req.headers.push_back(h);
      req.body = spec.body;

      std::optional<failure> dropped;
      std::optional<std::chrono::milliseconds> retry_after;
      google_error answer;
      std::string why;
      auto c = co_await client.acquire(api.origin, &why);
      if (!c) {
        dropped = failure{c.error(), why};
      } else {
        std::unique_ptr<http_connection> conn = std::move(*c);
        auto head = co_await conn->request(req);
        if (!head) {
          dropped = failure{head.error(), conn->last_error_detail()};
        } else if (spec.stream && (head->status == 200 || head->status == 206)) {
          call_result out{std::move(*head), {}, std::move(conn)};
          co_return out;
        } else {
          auto body = co_await conn->read_body_all(spec.limit);
          if (!body) {
            dropped = failure{body.error(), conn->last_error_detail()};
          } else {
            client.release(std::move(conn));
            const unsigned status = head->status;
            if (status == 401 && !refreshed) {
              tokens.invalidate(*tok);
              refreshed = true;
              continue;
            }
            answer = parse_google_error(status, *body);
            if (status < 300 || !is_retryable(answer) || ++attempts > policy.max_attempts) {
              call_result out{std::move(*head), std::move(*body), nullptr};
              co_return out;
            }
            if (auto ra = head->header("Retry-After")) retry_after = parse_retry_after(*ra);
            if (retry_after && *retry_after > policy.max_retry_after) {
              call_result out{std::move(*head), std::move(*body), nullptr};
              co_return out;
            }
          }
        }
      }
      std::chrono::milliseconds delay{0};
      if (dropped) {
        if (transport_fatal(dropped->code) || ++attempts > policy.max_attempts) co_return *dropped;
        if (drops++ > 0) delay = backoff_delay(policy, attempts, random01());
      } else {
        delay = backoff_delay(policy, attempts, random01(), retry_after);
      }
      warn("drive request retried", {{"method", spec.method},
                                     {"reason", dropped ? dropped->message : describe(answer)},
                                     {"delay_ms", static_cast<std::int64_t>(delay.count())}});
      if (delay.count() > 0) {
        timer.expires_after(delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  }

  // DELETE a file; 404 counts as done.
  asio::awaitable<outcome<void>> delete_file(const std::string& id) {
    if (!valid_file_id(id))
      co_return failure{make_error_code(errc::storage_error),
                        "refusing to delete a malformed Drive file id"};
    call_spec spec;
    spec.method = "DELETE";
    spec.target = prefix + "/drive/v3/files/" + id + "?supportsAllDrives=true";
    auto r = co_await call(spec);
    if (!r) co_return r.error();
    const unsigned status = r->head.status;
    if (status == 204 || status == 200 || status == 404) co_return outcome<void>{};
    const google_error e = parse_google_error(status, r->body);
    const errc code = status == 401 ? errc::drive_auth_failed : errc::storage_error;
    co_return failure{make_error_code(code),
                      "deleting Drive file " + id + " failed (" + describe(e) + ")"};
  }

  // files.get of the checksums, for a final answer that lacked sha256Checksum.
  asio::awaitable<std::optional<stored_object>> get_file(const std::string& id) {
    if (!valid_file_id(id)) co_return std::nullopt;
    call_spec spec;
    spec.target = prefix + "/drive/v3/files/" + id +
                  "?supportsAllDrives=true&fields=" + query_encode(file_fields);
    auto r = co_await call(spec);
    if (!r || r->head.status != 200) co_return std::nullopt;
    auto f = parse_drive_file(r->body);
    if (!f) co_return std::nullopt;
    co_return std::move(*f);
  }
};

// ---------------------------------------------------------------------------------------------
// Uploads

namespace {

class drive_upload final : public storage_upload {
 public:
  drive_upload(drive_storage::impl& s, upload_request req)
      : s_(s), req_(std::move(req)), machine_(req_.total_size, s.opts.retry) {
    req_.sha256 = lower(req_.sha256);
  }

  ~drive_upload() override = default;

  std::uint64_t committed() const override { return machine_.persisted(); }

  void cancel() override {
    cancelled_ = true;
    if (waiting_) waiting_->cancel();
    if (active_) active_->cancel();
  }

  std::string resume_state() const override {
    if (!machine_.has_session() || machine_.complete() || machine_.failed()) return "";
    drive_resume_state st;
    st.session_uri = machine_.session_uri();
    st.offset = machine_.persisted();
    st.total = req_.total_size;
    st.sha256 = req_.sha256;
    return encode_resume_state(st);
  }

  std::string error_detail() const override { return error_; }

  // Starts a new session, or continues the one `previous` describes when it is for this upload.
  asio::awaitable<error_code> start(const std::string& previous) {
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
    auto ec = co_await run(nullptr, 0, 0, false);
    next_offset_ = machine_.persisted();
    co_return ec;
  }

  asio::awaitable<error_code> write(asio::const_buffer chunk) override {
    const std::uint64_t begin = next_offset_;
    auto ec =
        co_await run(static_cast<const char*>(chunk.data()), begin, begin + chunk.size(), false);
    if (!ec) next_offset_ = begin + chunk.size();
    co_return ec;
  }

  asio::awaitable<boost::system::result<stored_object>> finish(asio::const_buffer last) override {
    const std::uint64_t begin = next_offset_;
    const std::uint64_t end = begin + last.size();
    if (end != req_.total_size) {
      error_ = "the upload ends at byte " + std::to_string(end) + " but " +
               std::to_string(req_.total_size) + " were announced";
      co_return make_error_code(errc::size_mismatch);
    }
    if (auto ec = co_await run(static_cast<const char*>(last.data()), begin, end, true))
      co_return ec;
    next_offset_ = end;
    if (!machine_.complete()) {
      error_ = "Drive did not confirm the end of the upload";
      co_return make_error_code(errc::drive_upload_failed);
    }
    auto file = parse_drive_file(machine_.resource());
    if (!file) {
      error_ = "Drive's answer to the last chunk cannot be read: " + file.error();
      co_return make_error_code(errc::drive_upload_failed);
    }
    finished_ = true;
    file_id_ = file->location;
    if (file->sha256.empty()) {
      // Drive may compute checksums a little later: ask once more, else the hash stays unknown.
      auto again = co_await s_.get_file(file->location);
      if (again && again->size == file->size) {
        file->sha256 = again->sha256;
        if (file->md5.empty()) file->md5 = again->md5;
      }
    }
    std::string problem;
    if (file->size != req_.total_size) {
      problem = "Drive stored " + std::to_string(file->size) + " bytes but " +
                std::to_string(req_.total_size) + " were uploaded";
    } else if (!file->sha256.empty() && file->sha256 != req_.sha256) {
      problem = "Drive reports SHA-256 " + file->sha256 +
                " for the uploaded file but the backup's is " + req_.sha256;
    }
    if (!problem.empty()) {
      auto removed = co_await s_.delete_file(file->location);
      error_ = problem + (removed ? "; the file was deleted"
                                  : "; deleting Drive file " + file->location + " failed too (" +
                                        removed.error().message + "): delete it by hand");
      file_id_.clear();
      co_return make_error_code(errc::drive_checksum_mismatch);
    }
    if (file->name.empty()) file->name = req_.name;
    if (file->created_at == std::chrono::sys_seconds{}) file->created_at = req_.created_at;
    co_return std::move(*file);
  }

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
  asio::awaitable<error_code> run(const char* data, std::uint64_t begin, std::uint64_t end,
                                  bool final) {
    machine_.offer(begin, end, final);
    asio::steady_timer timer(s_.client.get_executor());
    for (;;) {
      if (cancelled_) {
        error_ = "the upload was interrupted";
        co_return make_error_code(errc::cancelled);
      }
      const auto st = machine_.next(s_.random01());
      switch (st.kind) {
        case resumable_upload::step_kind::window_done:
        case resumable_upload::step_kind::complete:
          co_return error_code{};
        case resumable_upload::step_kind::failed:
          error_ = machine_.error().message;
          co_return machine_.error().code;
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
                 query_encode(file_fields);
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
    std::string why;
    auto c = co_await s_.client.acquire(origin, &why);
    if (!c) {
      machine_.on_transport_error(c.error(), why);
      co_return;
    }
    std::unique_ptr<http_connection> conn = std::move(*c);
    if (cancelled_) co_return;
    active_ = conn.get();
    auto head = co_await conn->request(req);
    if (!head) {
      active_ = nullptr;
      machine_.on_transport_error(head.error(), conn->last_error_detail());
      co_return;
    }
    auto body = co_await conn->read_body_all(small_body_limit);
    active_ = nullptr;
    if (!body) {
      machine_.on_transport_error(body.error(), conn->last_error_detail());
      co_return;
    }
    s_.client.release(std::move(conn));
    upload_response r;
    r.status = head->status;
    auto copy = [&head](std::string_view name) -> std::optional<std::string> {
      auto v = head->header(name);
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
    r.body = std::move(*body);
    machine_.on_response(r);
  }

  drive_storage::impl& s_;
  upload_request req_;
  resumable_upload machine_;
  // Job cancellation: interrupts a backoff wait or the request in flight.
  bool cancelled_ = false;
  asio::steady_timer* waiting_ = nullptr;
  http_connection* active_ = nullptr;
  std::uint64_t next_offset_ = 0;  // first byte the next write() or finish() hands over
  std::string token_;
  std::string checked_session_;
  parsed_url session_url_;
  std::string error_;
  std::string file_id_;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------------
// Downloads

class drive_download final : public storage_download {
 public:
  drive_download(drive_storage::impl& s, std::string id, std::unique_ptr<http_connection> conn,
                 std::optional<std::uint64_t> size)
      : s_(s), id_(std::move(id)), conn_(std::move(conn)), size_(size) {}

  std::uint64_t size() const override { return size_.value_or(0); }

  asio::awaitable<boost::system::result<std::size_t>> read_some(asio::mutable_buffer buf) override {
    for (;;) {
      if (!conn_) {
        if (size_ && received_ >= *size_) co_return std::size_t{0};
        if (auto ec = co_await reopen()) co_return ec;
      }
      auto n = co_await conn_->read_body_some(buf);
      if (n && *n > 0) {
        received_ += *n;
        co_return *n;
      }
      error_code ec = n ? error_code{} : n.error();
      if (n) {
        // The body ended: complete unless shorter than announced.
        if (!size_ || received_ >= *size_) {
          s_.client.release(std::move(conn_));
          co_return std::size_t{0};
        }
        ec = make_error_code(errc::http_protocol_error);
      }
      const std::string detail = conn_->last_error_detail();
      conn_.reset();
      if (ec == errc::cancelled || !size_ || ++resumes_ > 3) {
        s_.last_error = "downloading Drive file " + id_ + " broke after " +
                        std::to_string(received_) + " bytes: " + detail;
        co_return ec;
      }
      s_.warn("drive download resumed", {{"file", id_}, {"offset", received_}, {"detail", detail}});
    }
  }

 private:
  // Asks for the rest of the file after a broken connection.
  asio::awaitable<error_code> reopen() {
    drive_storage::impl::call_spec spec;
    spec.target = s_.prefix + "/drive/v3/files/" + id_ + "?alt=media&supportsAllDrives=true";
    spec.headers = {{"Range", "bytes=" + std::to_string(received_) + "-"}};
    spec.stream = true;
    auto r = co_await s_.call(spec);
    if (!r) {
      s_.last_error =
          "resuming the download of Drive file " + id_ + " failed: " + r.error().message;
      co_return r.error().code;
    }
    const std::string expected = "bytes " + std::to_string(received_) + "-";
    const auto content_range = r->head.header("Content-Range");
    if (r->head.status != 206 || !r->conn || !content_range ||
        !content_range->starts_with(expected)) {
      s_.last_error = "resuming the download of Drive file " + id_ + " at byte " +
                      std::to_string(received_) + " got HTTP " + std::to_string(r->head.status);
      co_return make_error_code(errc::storage_error);
    }
    conn_ = std::move(r->conn);
    co_return error_code{};
  }

  drive_storage::impl& s_;
  std::string id_;
  std::unique_ptr<http_connection> conn_;
  std::optional<std::uint64_t> size_;
  std::uint64_t received_ = 0;
  int resumes_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// drive_storage

boost::system::result<std::unique_ptr<drive_storage>, std::string> drive_storage::create(
    http_client& client, drive_token_source& tokens, drive_storage_options options) {
  using res = boost::system::result<std::unique_ptr<drive_storage>, std::string>;
  auto url = parse_http_url(options.api_url);
  if (!url) return res(boost::system::in_place_error, "--drive-api-url: " + url.error());
  if (url->target.find('?') != std::string::npos)
    return res(boost::system::in_place_error,
               std::string("--drive-api-url: must not have a query"));
  auto p = std::make_unique<impl>(client, tokens, std::move(options), std::move(*url));
  return std::unique_ptr<drive_storage>(new drive_storage(std::move(p)));
}

drive_storage::drive_storage(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
drive_storage::~drive_storage() = default;

std::string drive_storage::last_error_detail() const {
  return impl_->last_error;
}

asio::awaitable<boost::system::result<std::unique_ptr<storage_upload>>> drive_storage::begin(
    const upload_request& request) {
  if (request.folder.empty()) {
    impl_->last_error = "the app has no drive_folder_id";
    co_return make_error_code(errc::drive_folder_not_found);
  }
  auto up = std::make_unique<drive_upload>(*impl_, request);
  const std::string previous = request.resume_state;
  if (auto ec = co_await up->start(previous)) {
    impl_->last_error = up->error_detail();
    if (ec == errc::drive_folder_not_found)
      impl_->last_error = "Drive folder \"" + request.folder + "\": " + impl_->last_error;
    co_return ec;
  }
  co_return std::unique_ptr<storage_upload>(std::move(up));
}

asio::awaitable<boost::system::result<std::unique_ptr<storage_download>>> drive_storage::open(
    const std::string& location) {
  if (!valid_file_id(location)) co_return make_error_code(errc::not_found);
  impl::call_spec spec;
  spec.target = impl_->prefix + "/drive/v3/files/" + location + "?alt=media&supportsAllDrives=true";
  spec.stream = true;
  auto r = co_await impl_->call(spec);
  if (!r) {
    impl_->last_error = "downloading Drive file " + location + " failed: " + r.error().message;
    co_return r.error().code;
  }
  const unsigned status = r->head.status;
  if (status == 404) co_return make_error_code(errc::not_found);
  if (status != 200 || !r->conn) {
    const google_error e = parse_google_error(status, r->body);
    impl_->last_error = "downloading Drive file " + location + " failed (" + describe(e) + ")";
    co_return make_error_code(status == 401 ? errc::drive_auth_failed : errc::storage_error);
  }
  const auto size = r->head.content_length;
  co_return std::unique_ptr<storage_download>(
      std::make_unique<drive_download>(*impl_, location, std::move(r->conn), size));
}

asio::awaitable<error_code> drive_storage::remove(const std::string& location) {
  auto r = co_await impl_->delete_file(location);
  if (!r) {
    impl_->last_error = r.error().message;
    co_return r.error().code;
  }
  co_return error_code{};
}

asio::awaitable<boost::system::result<std::vector<stored_object>>> drive_storage::list(
    const std::string& folder, const std::string& app) {
  std::vector<stored_object> out;
  const std::string base =
      impl_->prefix + "/drive/v3/files?q=" + query_encode(drive_list_query(folder, app)) +
      "&pageSize=1000&supportsAllDrives=true&includeItemsFromAllDrives=true&fields=" +
      query_encode("nextPageToken,files(" + std::string(file_fields) + ")");
  std::string page_token;
  // Drive may return short or empty pages before the end; the bound only stops a runaway loop.
  for (int page = 0; page < 100000; ++page) {
    impl::call_spec spec;
    spec.target = base;
    if (!page_token.empty()) spec.target += "&pageToken=" + query_encode(page_token);
    spec.limit = list_body_limit;
    auto r = co_await impl_->call(spec);
    if (!r) {
      impl_->last_error = "listing Drive folder " + folder + " failed: " + r.error().message;
      co_return r.error().code;
    }
    if (r->head.status != 200) {
      const google_error e = parse_google_error(r->head.status, r->body);
      impl_->last_error = "listing Drive folder " + folder + " failed (" + describe(e) + ")";
      co_return make_error_code(r->head.status == 401 ? errc::drive_auth_failed
                                                      : errc::storage_error);
    }
    error_code jec;
    json::value doc = json::parse(r->body, jec);
    if (jec || !doc.is_object()) {
      impl_->last_error = "listing Drive folder " + folder + ": the answer is not JSON";
      co_return make_error_code(errc::storage_error);
    }
    const json::object& o = doc.get_object();
    if (const auto* files = o.if_contains("files"); files && files->is_array()) {
      for (const auto& f : files->get_array()) {
        const std::string one = json::serialize(f);
        auto parsed = parse_drive_file(one);
        if (parsed) out.push_back(std::move(*parsed));
      }
    }
    const auto* next = o.if_contains("nextPageToken");
    if (!next || !next->is_string() || next->get_string().empty()) co_return out;
    page_token = std::string(next->get_string());
  }
  impl_->last_error = "listing Drive folder " + folder + ": too many pages";
  co_return make_error_code(errc::storage_error);
}

}  // namespace respaldo
