#include "respaldo/storage/drive/drive_upload.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>

#include "respaldo/core/text.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {
namespace {

namespace json = boost::json;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

std::string bytes_text(std::uint64_t done, std::uint64_t total) {
  return std::to_string(done) + " of " + std::to_string(total) + " bytes";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Errors

google_error parse_google_error(unsigned status, std::string_view body) {
  google_error e;
  e.status = status;
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    // Not Google's JSON (a proxy's HTML page, say): keep a short excerpt only when it is text.
    if (!body.empty() && body.front() != '<') e.message = printable_excerpt(body, 120);
    return e;
  }
  const json::value* err = doc.get_object().if_contains("error");
  if (!err) return e;
  if (err->is_string()) {  // OAuth style: {"error":"invalid_grant","error_description":".."}
    e.reason = std::string(err->get_string());
    if (const auto* d = doc.get_object().if_contains("error_description"); d && d->is_string())
      e.message = printable_excerpt(d->get_string(), 300);
    return e;
  }
  if (!err->is_object()) return e;
  const json::object& o = err->get_object();
  if (const auto* m = o.if_contains("message"); m && m->is_string())
    e.message = printable_excerpt(m->get_string(), 300);
  if (const auto* list = o.if_contains("errors");
      list && list->is_array() && !list->get_array().empty()) {
    const json::value& first = list->get_array().front();
    if (first.is_object()) {
      if (const auto* r = first.get_object().if_contains("reason"); r && r->is_string())
        e.reason = std::string(r->get_string());
      if (e.message.empty())
        if (const auto* m = first.get_object().if_contains("message"); m && m->is_string())
          e.message = printable_excerpt(m->get_string(), 300);
    }
  }
  if (e.reason.empty())
    if (const auto* s = o.if_contains("status"); s && s->is_string())
      e.reason = std::string(s->get_string());  // newer APIs: "RESOURCE_EXHAUSTED"...
  return e;
}

std::string describe(const google_error& e) {
  std::string s = "HTTP " + std::to_string(e.status);
  if (!e.reason.empty()) s += " " + printable_excerpt(e.reason, 60);
  if (!e.message.empty()) s += ": " + e.message;
  return s;
}

bool is_retryable(const google_error& e) {
  if (e.status == 429 || e.status == 408 || e.status >= 500) return true;
  return e.status == 403 &&
         (e.reason == "rateLimitExceeded" || e.reason == "userRateLimitExceeded");
}

bool is_quota_reason(std::string_view reason) {
  if (reason == "rateLimitExceeded" || reason == "userRateLimitExceeded") return false;
  return reason == "quotaExceeded" || reason.ends_with("LimitExceeded") ||
         reason.ends_with("QuotaExceeded");
}

std::string quota_advice() {
  return "A service account has no Drive storage of its own: put the folder in a shared drive "
         "and add the service account as a member (Content manager), or use domain-wide "
         "delegation (--drive-impersonate USER@DOMAIN), or use user OAuth credentials (an "
         "authorized_user file)";
}

// ---------------------------------------------------------------------------------------------
// Small parsers

std::chrono::milliseconds backoff_delay(const drive_retry_policy& policy, unsigned attempt,
                                        double random01,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  using std::chrono::milliseconds;
  const double base = static_cast<double>(policy.base_delay.count());
  const double cap = static_cast<double>(policy.max_delay.count());
  double d = base * std::pow(2.0, static_cast<double>(attempt > 0 ? attempt - 1 : 0));
  d = std::min(d, cap);
  const double jitter_span = std::min(base, 1000.0);
  d += jitter_span * std::clamp(random01, 0.0, 1.0);
  auto out = milliseconds(static_cast<std::int64_t>(d));
  if (retry_after && *retry_after > out) out = *retry_after;
  return out;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  value = trim(value);
  std::uint64_t seconds = 0;
  if (!parse_u64(value, seconds) || seconds > 86400 * 7) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds) * 1000);
}

std::optional<std::uint64_t> parse_upload_range(std::optional<std::string_view> header) {
  if (!header) return std::uint64_t{0};
  std::string_view v = trim(*header);
  constexpr std::string_view prefix = "bytes=";
  if (v.size() < prefix.size()) return std::nullopt;
  if (!iequals(v.substr(0, prefix.size()), prefix)) return std::nullopt;
  v.remove_prefix(prefix.size());
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::uint64_t first = 0, last = 0;
  if (!parse_u64(v.substr(0, dash), first) || !parse_u64(v.substr(dash + 1), last))
    return std::nullopt;
  if (first != 0 || last == std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
  return last + 1;
}

outcome<stored_object> parse_drive_file(std::string_view text) {
  auto bad = [](std::string m) -> outcome<stored_object> {
    return failure{make_error_code(errc::storage_error), std::move(m)};
  };
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return bad("the file resource is not a JSON object");
  const json::object& o = doc.get_object();
  auto str = [&o](const char* name) -> std::string {
    const json::value* v = o.if_contains(name);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  stored_object f;
  f.location = str("id");
  if (f.location.empty()) return bad("the file resource has no id");
  f.name = str("name");
  if (const json::value* s = o.if_contains("size")) {
    // Drive sends int64 fields as decimal strings; accept a number too.
    if (s->is_string()) {
      if (!parse_u64(s->get_string(), f.size)) return bad("the file resource has a malformed size");
    } else if (s->is_uint64()) {
      f.size = s->get_uint64();
    } else if (s->is_int64() && s->get_int64() >= 0) {
      f.size = static_cast<std::uint64_t>(s->get_int64());
    } else {
      return bad("the file resource has a malformed size");
    }
  } else {
    return bad("the file resource has no size");
  }
  f.md5 = lower(str("md5Checksum"));
  f.sha256 = lower(str("sha256Checksum"));
  if (auto t = parse_rfc3339(str("createdTime"))) f.created_at = *t;
  if (const json::value* p = o.if_contains("appProperties"); p && p->is_object())
    for (const auto& [k, v] : p->get_object())
      if (v.is_string()) f.properties[std::string(k)] = std::string(v.get_string());
  return f;
}

std::string encode_resume_state(const drive_resume_state& s) {
  json::object o{
      {"v", 1},           {"storage", "drive"}, {"session", s.session_uri}, {"offset", s.offset},
      {"total", s.total}, {"sha256", s.sha256}};
  return json::serialize(o);
}

std::optional<drive_resume_state> decode_resume_state(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return std::nullopt;
  const json::object& o = doc.get_object();
  auto u64 = [&o](const char* name) -> std::optional<std::uint64_t> {
    const json::value* v = o.if_contains(name);
    if (!v) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
  };
  const json::value* version = o.if_contains("v");
  const json::value* kind = o.if_contains("storage");
  const json::value* session = o.if_contains("session");
  const json::value* sha = o.if_contains("sha256");
  if (!version || !version->is_int64() || version->get_int64() != 1) return std::nullopt;
  if (!kind || !kind->is_string() || kind->get_string() != "drive") return std::nullopt;
  if (!session || !session->is_string() || session->get_string().empty()) return std::nullopt;
  if (!sha || !sha->is_string()) return std::nullopt;
  auto offset = u64("offset"), total = u64("total");
  if (!offset || !total || *offset > *total) return std::nullopt;
  drive_resume_state s;
  s.session_uri = std::string(session->get_string());
  s.offset = *offset;
  s.total = *total;
  s.sha256 = std::string(sha->get_string());
  return s;
}

// ---------------------------------------------------------------------------------------------
// The machine

resumable_upload::resumable_upload(std::uint64_t total, drive_retry_policy policy)
    : total_(total), policy_(policy) {}

void resumable_upload::resume(std::string session_uri) {
  session_ = std::move(session_uri);
  need_query_ = true;
}

void resumable_upload::offer(std::uint64_t begin, std::uint64_t end, bool final) {
  window_begin_ = begin;
  window_end_ = std::min(end, total_);
  final_ = final && window_end_ == total_;
}

resumable_upload::step resumable_upload::next(double random01) {
  if (state_ == state::failed) return {step_kind::failed};
  if (state_ == state::complete) return {step_kind::complete};
  if (refresh_pending_) {
    refresh_pending_ = false;
    return {step_kind::refresh_token};
  }
  if (waiting_backoff_) {
    waiting_backoff_ = false;
    const auto d = backoff_delay(policy_, attempts_, random01, retry_after_);
    retry_after_.reset();
    return {step_kind::wait, 0, 0, d};
  }
  if (session_.empty()) {
    pending_ = request::initiate;
    return {step_kind::initiate};
  }
  if (need_query_) {
    pending_ = request::query;
    return {step_kind::query};
  }
  if (persisted_ < window_begin_) {
    fail_with(
        errc::drive_session_expired,
        "Drive now holds only " + bytes_text(persisted_, total_) + ", but bytes up to " +
            std::to_string(window_begin_) +
            " were acknowledged before and are no longer at hand; the upload must start over");
    return {step_kind::failed};
  }
  if (persisted_ >= window_end_) {
    if (final_) {
      // Everything is persisted but no final answer came: the status query gives the file.
      pending_ = request::query;
      return {step_kind::query};
    }
    return {step_kind::window_done};
  }
  const std::uint64_t length = window_end_ - persisted_;
  if (!final_ && length % drive_chunk_granularity != 0) {
    fail_with(errc::drive_upload_failed,
              "Drive acknowledged " + std::to_string(persisted_) +
                  " bytes, which leaves a piece that is not a multiple of 262144 bytes to send");
    return {step_kind::failed};
  }
  pending_ = request::send;
  sent_end_ = window_end_;
  return {step_kind::send, persisted_, length};
}

void resumable_upload::fail_with(errc code, std::string message) {
  state_ = state::failed;
  error_ = failure{make_error_code(code), std::move(message)};
}

void resumable_upload::fail(failure f) {
  if (state_ != state::active) return;
  state_ = state::failed;
  error_ = std::move(f);
}

void resumable_upload::retry_later(const google_error& e, const upload_response& r) {
  ++attempts_;
  if (attempts_ > policy_.max_attempts) {
    fail_with(errc::drive_rate_limited,
              "Drive kept refusing the upload (" + describe(e) + ") " +
                  std::to_string(policy_.max_attempts) + " times in a row, after " +
                  bytes_text(persisted_, total_) + "; the job may be retried later");
    return;
  }
  retry_after_.reset();
  if (r.retry_after) retry_after_ = parse_retry_after(*r.retry_after);
  if (retry_after_ && *retry_after_ > policy_.max_retry_after) {
    fail_with(errc::drive_rate_limited,
              "Drive asked to wait " + std::to_string(retry_after_->count() / 1000) +
                  " s before retrying (" + describe(e) + "); the job may be retried later");
    return;
  }
  waiting_backoff_ = true;
}

void resumable_upload::on_response(const upload_response& r) {
  const request was = pending_;
  pending_ = request::none;
  if (state_ != state::active || was == request::none) return;
  unsigned status = r.status;
  if (status == 200 && r.status_override && trim(*r.status_override) == "308") status = 308;

  if (was == request::initiate && (status == 200 || status == 201)) {
    on_session_started(r);
    return;
  }
  if (was != request::initiate && status == 308) {
    on_incomplete(was, r);
    return;
  }
  if (was != request::initiate && (status == 200 || status == 201)) {
    resource_ = r.body;
    persisted_ = total_;
    state_ = state::complete;
    return;
  }
  on_refusal(was, status, r);
}

void resumable_upload::on_session_started(const upload_response& r) {
  if (!r.location || trim(*r.location).empty()) {
    fail_with(errc::drive_upload_failed,
              "Drive accepted the upload request but sent no session URI (Location header)");
    return;
  }
  session_ = std::string(trim(*r.location));
  persisted_ = 0;
  need_query_ = false;
  attempts_ = 0;
  transport_failures_ = 0;
  refreshed_ = false;
}

// 308 Resume Incomplete: Range says how much Drive holds.
void resumable_upload::on_incomplete(request was, const upload_response& r) {
  auto p = parse_upload_range(r.range ? std::optional<std::string_view>(*r.range) : std::nullopt);
  if (!p || *p > total_) {
    fail_with(errc::drive_upload_failed, "Drive answered 308 with an unusable Range header \"" +
                                             printable_excerpt(r.range.value_or(""), 80) + "\"");
    return;
  }
  const bool progress = *p > persisted_;
  persisted_ = *p;
  need_query_ = false;
  refreshed_ = false;
  transport_failures_ = 0;
  if (was != request::send || progress) {
    attempts_ = 0;
    return;
  }
  // Nothing of what was sent was kept: pause, then send again (bounded).
  ++attempts_;
  if (attempts_ > policy_.max_attempts) {
    fail_with(errc::drive_upload_failed,
              "Drive kept none of the bytes sent " + std::to_string(policy_.max_attempts) +
                  " times in a row, after " + bytes_text(persisted_, total_));
    return;
  }
  waiting_backoff_ = true;
}

void resumable_upload::on_refusal(request was, unsigned status, const upload_response& r) {
  const google_error e = parse_google_error(status, r.body);
  if (status == 401) {
    if (refreshed_) {
      fail_with(errc::drive_auth_failed,
                "Drive refused a freshly issued access token (" + describe(e) +
                    "): check that the Google Drive API is enabled for the credentials' project "
                    "and that the account may use Drive");
      return;
    }
    refresh_pending_ = true;
    refreshed_ = true;
    return;  // the same request again, with the new token
  }
  refreshed_ = false;
  if (was != request::initiate && (status == 404 || status == 410)) {
    on_session_lost(e);
    return;
  }
  if (was == request::initiate && status == 404) {
    fail_with(errc::drive_folder_not_found,
              "Drive does not know the folder (" + describe(e) +
                  "): check the app's drive_folder_id and that the folder is shared with the "
                  "account respaldo uses");
    return;
  }
  if (status == 403 && e.reason == "storageQuotaExceeded") {
    fail_with(errc::drive_quota_exceeded,
              "Drive refused to store the file (" + describe(e) + "). " + quota_advice());
    return;
  }
  if (status == 403 && is_quota_reason(e.reason)) {
    fail_with(errc::drive_quota_exceeded,
              "Drive refused the upload because a quota or limit is exhausted (" + describe(e) +
                  "); it is not retried now");
    return;
  }
  if (is_retryable(e)) {
    // After a server error the request may have been partly processed: ask before sending.
    if (was != request::initiate && (status >= 500 || status == 408)) need_query_ = true;
    retry_later(e, r);
    return;
  }
  fail_with(errc::drive_upload_failed, "Drive refused the upload (" + describe(e) + ")");
}

// 404/410 on a session: restart while every byte is still at hand, fail otherwise.
void resumable_upload::on_session_lost(const google_error& e) {
  if (window_begin_ == 0 && restarts_ < 3) {
    session_.clear();
    persisted_ = 0;
    need_query_ = false;
    attempts_ = 0;
    ++restarts_;
    return;
  }
  fail_with(errc::drive_session_expired,
            "the upload session expired or was removed by Drive (" + describe(e) + ") after " +
                bytes_text(persisted_, total_) + "; the upload must start over");
}

void resumable_upload::on_transport_error(const boost::system::error_code& ec, std::string detail) {
  const request was = pending_;
  pending_ = request::none;
  if (state_ != state::active) return;
  if (ec == errc::cancelled) {
    fail(failure{ec, "the upload was cancelled"});
    return;
  }
  if (ec == errc::tls_error) {
    fail(failure{ec, detail.empty() ? std::string("TLS with Drive failed") : detail});
    return;
  }
  if (ec == errc::invalid_argument) {
    fail(failure{make_error_code(errc::drive_upload_failed),
                 "the request to Drive could not be sent: " + detail});
    return;
  }
  ++attempts_;
  if (attempts_ > policy_.max_attempts) {
    fail(failure{ec == errc::timeout ? ec : make_error_code(errc::drive_rate_limited),
                 "no answer from Drive " + std::to_string(policy_.max_attempts) +
                     " times in a row (last: " + detail + ") after " +
                     bytes_text(persisted_, total_)});
    return;
  }
  // The connection dropped: what arrived is unknown, so ask before sending more. The first drop
  // is asked about at once (often a kept-alive connection the server had closed).
  if (was != request::initiate && !session_.empty()) need_query_ = true;
  if (transport_failures_++ > 0) waiting_backoff_ = true;
}

}  // namespace respaldo
