// The Drive files API as the backend uses it: one call with token refresh and retries, deletes
// and checksum look-ups, and the query strings (percent-encoded by Boost.URL).
#include "drive_files.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace respaldo {

namespace asio = boost::asio;
namespace urls = boost::urls;
using boost::system::error_code;

namespace drive_detail {

bool valid_file_id(std::string_view id) {
  return !id.empty() && id.size() <= 256 && std::all_of(id.begin(), id.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '_';
  });
}

bool transport_fatal(const error_code& ec) {
  return ec == errc::cancelled || ec == errc::tls_error || ec == errc::invalid_argument;
}

}  // namespace drive_detail

using drive_detail::file_fields;
using drive_detail::valid_file_id;

std::string query_encode(std::string_view value) {
  return urls::encode(value, urls::unreserved_chars);
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

drive_storage::impl::impl(http_client& c, drive_token_source& t, drive_storage_options o,
                          parsed_url base)
    : client(c), tokens(t), opts(std::move(o)), api(std::move(base)) {
  prefix = api.target;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
}

asio::awaitable<outcome<drive_storage::impl::call_result>> drive_storage::impl::send_once(
    const call_spec& spec, const std::string& token) {
  http_client_request req;
  req.method = spec.method;
  req.target = spec.target;
  req.headers.reserve(spec.headers.size() + 1);
  req.headers.push_back({"Authorization", "Bearer " + token});
  for (const auto& h : spec.headers) req.headers.push_back(h);
  req.body = spec.body;
  exchange_options xo;
  xo.body_limit = spec.limit;
  xo.retry_stale = false;  // every dropped connection counts as an attempt of the retry policy
  xo.cancel = spec.cancel;
  auto sent = co_await http_send(client, api.origin, req, xo);
  if (!sent) co_return sent.error();
  if (spec.stream && (sent->head.status == 200 || sent->head.status == 206))
    co_return call_result{std::move(sent->head), {}, std::move(sent->conn)};
  auto whole = co_await read_whole(client, std::move(*sent), xo);
  if (!whole) co_return whole.error();
  co_return call_result{std::move(whole->head), std::move(whole->body), nullptr};
}

asio::awaitable<outcome<drive_storage::impl::call_result>> drive_storage::impl::call(
    const call_spec& spec) {
  drive_retry_policy policy = opts.retry;
  if (spec.max_attempts > 0) policy.max_attempts = spec.max_attempts;
  bool refreshed = false;
  unsigned attempts = 0, drops = 0;
  asio::steady_timer timer(client.get_executor());
  for (;;) {
    auto tok = co_await tokens.token();
    if (!tok) co_return tok.error();
    auto r = co_await send_once(spec, *tok);
    std::chrono::milliseconds delay{0};
    std::string reason;
    if (!r) {
      if (drive_detail::transport_fatal(r.error().code) || ++attempts > policy.max_attempts)
        co_return r.error();
      if (drops++ > 0) delay = backoff_delay(policy, attempts, random01());
      reason = r.error().message;
    } else {
      const unsigned status = r->head.status;
      if (r->conn) co_return std::move(*r);  // a stream to read
      if (status == 401 && !refreshed) {
        tokens.invalidate(*tok);
        refreshed = true;
        continue;
      }
      const google_error answer = parse_google_error(status, r->body);
      if (status < 300 || !is_retryable(answer) || ++attempts > policy.max_attempts)
        co_return std::move(*r);
      std::optional<std::chrono::milliseconds> retry_after;
      if (auto ra = r->head.header("Retry-After")) retry_after = parse_retry_after(*ra);
      if (retry_after && *retry_after > policy.max_retry_after) co_return std::move(*r);
      delay = backoff_delay(policy, attempts, random01(), retry_after);
      reason = describe(answer);
    }
    warn("drive request retried", {{"method", spec.method},
                                   {"reason", reason},
                                   {"delay_ms", static_cast<std::int64_t>(delay.count())}});
    if (delay.count() > 0) {
      // Bound to the caller's cancellation: a cancel during the back-off ends it at once
      // (a signal emitted while nothing listens would otherwise be lost).
      timer.expires_after(delay);
      auto [wec] = co_await timer.async_wait(
          asio::bind_cancellation_slot(spec.cancel, asio::as_tuple(asio::use_awaitable)));
      if (wec == asio::error::operation_aborted)
        co_return failure{make_error_code(errc::cancelled),
                          "cancelled while waiting to retry (" + reason + ")"};
    }
  }
}

asio::awaitable<outcome<void>> drive_storage::impl::delete_file(const std::string& id) {
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

asio::awaitable<std::optional<stored_object>> drive_storage::impl::get_file(const std::string& id) {
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

}  // namespace respaldo
