#include "respaldo/contract/exporter.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "respaldo/core/text.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/jobs/control.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

failure fail(errc code, std::string message) {
  return failure{make_error_code(code), std::move(message)};
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// 303s followed from one download request before giving up.
constexpr int max_redirects = 5;

bool safe_format(std::string_view f) {
  if (f.empty() || f.size() > 32 || f.front() == '.') return false;
  return std::all_of(f.begin(), f.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == '+';
  });
}

// An export body read straight from the app's connection.
class connection_body final : public export_body {
 public:
  explicit connection_body(std::unique_ptr<http_connection> c) : conn_(std::move(c)) {}
  asio::awaitable<outcome<std::size_t>> fill(asio::mutable_buffer b) override {
    return conn_->read_body_fill(b);
  }
  void cancel() override { conn_->cancel(); }

 private:
  std::unique_ptr<http_connection> conn_;
};

// Sends a request and reads the response head; stopping the job cuts the connection.
asio::awaitable<outcome<http_client_response_head>> request_until_stopped(
    http_connection& conn, const http_client_request& req, job_control& control) {
  stop_scope interrupt(control, [&conn] { conn.cancel(); });
  co_return co_await conn.request(req);
}

// Maps a failed network step to a job failure, preferring the cancellation reason.
failure network_failure(const boost::system::error_code& ec, const job_control* control,
                        const std::string& what, const std::string& detail) {
  if (control && control->stopped()) return control->reason();
  if (ec == errc::timeout) return fail(errc::app_timeout, what + " timed out");
  // The address policy refused the connection (link-local, respaldo itself, outside
  // --app-networks): the app sent respaldo there, or its name resolves there.
  if (ec == errc::app_contract_violation)
    return fail(errc::app_contract_violation, what + ": " + detail);
  if (ec == errc::tls_error) return fail(errc::app_unreachable, what + ": TLS failed: " + detail);
  if (ec == errc::http_protocol_error)
    return fail(errc::app_contract_violation,
                what + ": malformed HTTP response" + (detail.empty() ? "" : ": " + detail));
  return fail(errc::app_unreachable, what + " failed: " + (detail.empty() ? ec.message() : detail));
}

failure network_failure(const failure& f, const job_control* control, const std::string& what) {
  return network_failure(f.code, control, what, f.message);
}

failure status_failure(unsigned status, const std::string& what) {
  if (status == 401 || status == 403)
    return fail(errc::app_unauthorized, what + " answered " + std::to_string(status) +
                                            ": the app refused the token; update it with "
                                            "PATCH /api/apps/{id}");
  // Server errors, "request timeout" and "too many requests" may pass: worth another attempt.
  if (status >= 500 || status == 408 || status == 429)
    return fail(errc::app_export_failed, what + " answered " + std::to_string(status));
  return fail(errc::app_contract_violation,
              what + " answered unexpected status " + std::to_string(status));
}

// A URL's path for messages and logs: its query may carry a signature or another secret.
std::string path_of(const parsed_url& url) {
  return url.target.substr(0, url.target.find('?'));
}

// Whether a 206 answer starts where it was asked to ("bytes N-LAST/SIZE").
bool range_starts_at(const http_client_response_head& head, std::uint64_t offset) {
  auto range = head.header("Content-Range");
  if (!range) return false;
  constexpr std::string_view unit = "bytes ";
  if (range->substr(0, unit.size()) != unit) return false;
  auto rest = range->substr(unit.size());
  auto first = parse_u64(rest.substr(0, rest.find('-')));
  return first && *first == offset;
}

http_client_request bearer_request(std::string method, std::string target, const app_record& app) {
  http_client_request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.headers.push_back({"Authorization", "Bearer " + app.token});
  return req;
}

}  // namespace

// A 200 from the status URL is either the download or a JSON status document; any contract
// header, or a body that is not JSON, makes it a download (held to the download's rules).
bool is_status_document(const http_client_response_head& head) {
  for (const char* name : {"X-Checksum-SHA256", "X-Size", "X-Format"})
    if (head.header(name)) return false;
  auto type = head.header("Content-Type");
  if (!type) return false;
  const auto media = lower(type->substr(0, type->find(';')));
  return media.find("json") != std::string::npos;
}

// The status URL a 202 names: "status_url" in its JSON body, else its Location; it must stay on
// the app's own origin (the app's token goes there).
outcome<parsed_url> accepted_status_url(const parsed_url& export_url,
                                        const http_client_response_head& head,
                                        std::string_view body) {
  boost::system::error_code jec;
  auto v = json::parse(body, jec);
  std::string status_ref;
  if (!jec && v.is_object())
    if (auto s = v.as_object().find("status_url");
        s != v.as_object().end() && s->value().is_string())
      status_ref = std::string(s->value().as_string());
  if (status_ref.empty())
    if (auto loc = head.header("Location")) status_ref = std::string(*loc);
  if (status_ref.empty())
    return fail(errc::app_contract_violation,
                "202 from POST /backup/export without a status_url in its JSON body");
  auto status_url = resolve_url(export_url, status_ref);
  if (!status_url)
    return fail(errc::app_contract_violation, "bad status_url: " + status_url.error().message);
  if (!(status_url->origin == export_url.origin))
    return fail(errc::app_contract_violation, "status_url must be on the app's own host (" +
                                                  to_string(export_url.origin) + "), got " +
                                                  to_string(status_url->origin));
  return std::move(*status_url);
}

// A JSON document from the status URL: {"status":"failed","error":...} is the app's failure;
// any other document is not a download.
failure status_document_failure(std::string_view doc) {
  boost::system::error_code jec;
  auto dv = json::parse(doc, jec);
  const json::object* o = !jec && dv.is_object() ? &dv.as_object() : nullptr;
  const auto st = o ? o->find("status") : nullptr;
  if (o && st != o->end() && st->value().is_string() && st->value().as_string() == "failed") {
    std::string reason = "the app reported the export as failed";
    if (auto e = o->find("error"); e != o->end()) {
      if (e->value().is_string())
        reason += ": " + escaped_excerpt(e->value().as_string(), 500);
      else
        reason += ": " + escaped_excerpt(json::serialize(e->value()), 500);
    }
    return fail(errc::app_export_failed, reason);
  }
  return fail(errc::app_contract_violation,
              "the export status URL answered 200 with a JSON document but without the "
              "X-Checksum-SHA256, X-Size and X-Format headers of a download");
}

// The app's token goes only to the app's own origin: a download redirected elsewhere (e.g. a
// presigned object-store URL) is fetched without it.
http_client_request download_request(const parsed_url& url, const app_record& app) {
  auto base = parse_http_url(app.url);
  if (base && base->origin == url.origin) return bearer_request("GET", url.target, app);
  http_client_request req;
  req.target = url.target;
  return req;
}

outcome<void> check_download_origin(const app_record& app, const http_origin& target,
                                    const std::vector<std::string>& allowed) {
  auto base = parse_http_url(app.url);
  if (base && base->origin == target) return {};
  const std::string host =
      target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host;
  for (const auto& a : allowed)
    if (a == host || a == host + ":" + target.port) return {};
  return fail(errc::app_contract_violation,
              "the export download is on another origin (" + to_string(target) +
                  "); the app must serve it itself, or the operator must allow that origin "
                  "with --allow-download-origin " +
                  host + ":" + target.port);
}

// The contract paths hang below the registered URL's path, whether or not it ends in '/':
// "http://host/app" and "http://host/app/" both give "http://host/app/backup/export".
outcome<parsed_url> contract_url(const std::string& app_url, std::string_view path) {
  auto base = parse_http_url(app_url);
  if (!base)
    return failure{make_error_code(errc::invalid_argument),
                   "app url is invalid: " + base.error().message};
  auto target = base->target.substr(0, base->target.find('?'));
  if (target.empty() || target.back() != '/') target += '/';
  base->target = target;
  return resolve_url(*base, path);
}

outcome<export_stream> read_contract_headers(const http_client_response_head& head) {
  export_stream s;
  auto sum = head.header("X-Checksum-SHA256");
  if (!sum)
    return fail(errc::app_contract_violation,
                "the export response lacks the X-Checksum-SHA256 header");
  if (!is_sha256_hex(*sum))
    return fail(errc::app_contract_violation,
                "X-Checksum-SHA256 must be 64 hexadecimal digits, got \"" +
                    escaped_excerpt(*sum, 80) + "\"");
  s.sha256 = lower(*sum);
  auto size = head.header("X-Size");
  if (!size)
    return fail(errc::app_contract_violation, "the export response lacks the X-Size header");
  auto parsed = parse_u64(*size);
  if (!parsed)
    return fail(errc::app_contract_violation,
                "X-Size must be a decimal byte count, got \"" + escaped_excerpt(*size, 40) + "\"");
  s.size = *parsed;
  auto format = head.header("X-Format");
  if (!format)
    return fail(errc::app_contract_violation, "the export response lacks the X-Format header");
  if (!safe_format(*format))
    return fail(errc::app_contract_violation,
                "X-Format must be 1 to 32 characters of letters, digits, '.', '-', '_' or '+' "
                "(e.g. pgdump, tar.gz), got \"" +
                    escaped_excerpt(*format, 40) + "\"");
  s.format = std::string(*format);
  return s;
}

outcome<app_capabilities> parse_capabilities(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object())
    return fail(errc::app_contract_violation,
                "GET /backup/capabilities did not return a JSON object");
  const auto& o = v.as_object();
  app_capabilities caps;
  caps.raw = o;
  auto version = o.find("version");
  if (version == o.end() || !version->value().is_string())
    return fail(errc::app_contract_violation, "capabilities lack the \"version\" string");
  caps.version = std::string(version->value().as_string());
  if (caps.version != "v1")
    return fail(errc::app_contract_violation, "capabilities version is \"" +
                                                  escaped_excerpt(caps.version, 40) +
                                                  "\"; respaldo speaks v1");
  if (auto t = o.find("types"); t != o.end() && t->value().is_array())
    for (const auto& item : t->value().as_array())
      if (item.is_string()) caps.types.emplace_back(item.as_string());
  auto number = [&](const char* key) -> std::optional<std::uint64_t> {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    if (it->value().is_uint64()) return it->value().as_uint64();
    if (it->value().is_int64() && it->value().as_int64() >= 0)
      return static_cast<std::uint64_t>(it->value().as_int64());
    return std::nullopt;
  };
  caps.est_seconds = number("est_seconds");
  caps.est_size = number("est_size");
  return caps;
}

exporter::exporter(http_client& client, exporter_options options)
    : client_(client), options_(options) {}

asio::awaitable<outcome<app_capabilities>> exporter::probe(const app_record& app,
                                                           job_control* control) {
  auto url = contract_url(app.url, "backup/capabilities");
  if (!url) co_return fail(errc::app_contract_violation, url.error().message);
  auto conn = co_await client_.acquire(url->origin);
  if (!conn) co_return network_failure(conn.error(), control, "GET /backup/capabilities");
  http_connection* probing = conn->get();
  std::optional<stop_scope> interrupt;
  if (control) interrupt.emplace(*control, [probing] { probing->cancel(); });
  const auto probe_request = bearer_request("GET", url->target, app);
  auto head = co_await (*conn)->request(probe_request);
  if (!head) {
    co_return network_failure(head.error(), control, "GET /backup/capabilities");
  }
  if (head->status != 200) {
    // The body of a refusal is not needed; the connection is dropped with it.
    co_return status_failure(head->status, "GET /backup/capabilities");
  }
  auto body = co_await (*conn)->read_body_all(options_.json_limit);
  interrupt.reset();
  if (!body) co_return network_failure(body.error(), control, "GET /backup/capabilities");
  client_.release(std::move(*conn));
  co_return parse_capabilities(*body);
}

asio::awaitable<outcome<export_stream>> exporter::get_download(const app_record& app,
                                                               const parsed_url& url,
                                                               std::uint64_t offset,
                                                               job_control& control,
                                                               int redirects_left) {
  const std::string what = "GET " + path_of(url);
  if (auto allowed = check_download_origin(app, url.origin, options_.allowed_download_origins);
      !allowed)
    co_return allowed.error();
  auto conn = co_await client_.acquire(url.origin);
  if (!conn) co_return network_failure(conn.error(), &control, what);
  auto req = download_request(url, app);
  if (offset > 0) req.headers.push_back({"Range", "bytes=" + std::to_string(offset) + "-"});
  auto head = co_await request_until_stopped(**conn, req, control);
  if (!head) co_return network_failure(head.error(), &control, what);
  if (head->status == 303) {
    if (redirects_left <= 0)
      co_return fail(errc::app_contract_violation, "the export download redirects too often (303)");
    auto location = head->header("Location");
    if (!location)
      co_return fail(errc::app_contract_violation,
                     "303 from the export status URL without Location");
    auto next = resolve_url(url, *location);
    if (!next)
      co_return fail(errc::app_contract_violation, "bad Location: " + next.error().message);
    (void)co_await (*conn)->discard_body(options_.json_limit);
    client_.release(std::move(*conn));
    auto s = co_await get_download(app, *next, offset, control, redirects_left - 1);
    if (s && s->download_url.empty()) s->download_url = to_string(*next);
    co_return s;
  }
  if (head->status == 416 && offset > 0) {
    // The range is past the end (the export changed?): read it all and hash it again.
    (void)co_await (*conn)->discard_body(options_.json_limit);
    client_.release(std::move(*conn));
    co_return co_await get_download(app, url, 0, control, redirects_left);
  }
  const bool partial = offset > 0 && head->status == 206;
  if (head->status != 200 && !partial) co_return status_failure(head->status, what);
  if (partial && !range_starts_at(*head, offset))
    co_return fail(errc::app_contract_violation,
                   what + " answered 206 with a Content-Range that does not start at byte " +
                       std::to_string(offset));
  auto stream = read_contract_headers(*head);
  if (!stream) co_return stream;
  stream->body = std::make_unique<connection_body>(std::move(*conn));
  stream->download_url = to_string(url);
  if (offset > 0 && !partial) {
    // The app ignored Range: the caller must read (and hash) from the start.
    stream->offset = 0;
  } else {
    stream->offset = offset;
  }
  co_return stream;
}

asio::awaitable<outcome<export_stream>> exporter::start(
    const app_record& app, job_control& control,
    std::function<void(const std::string& note)> on_progress) {
  auto url = contract_url(app.url, "backup/export");
  if (!url) co_return fail(errc::app_contract_violation, url.error().message);
  const std::string what = "POST /backup/export";
  auto conn = co_await client_.acquire(url->origin);
  if (!conn) co_return network_failure(conn.error(), &control, what);
  const auto export_request = bearer_request("POST", url->target, app);
  auto head = co_await request_until_stopped(**conn, export_request, control);
  if (!head) co_return network_failure(head.error(), &control, what);
  if (head->status == 200) {
    auto stream = read_contract_headers(*head);
    if (!stream) co_return stream;
    stream->body = std::make_unique<connection_body>(std::move(*conn));
    co_return stream;
  }
  // One export at a time (respaldo agent, docs/deferred-export.md): busy now, free later.
  if (head->status == 409)
    co_return fail(errc::app_export_failed,
                   what + " answered 409: the app is still running another export; retrying");
  if (head->status != 202) co_return status_failure(head->status, what);

  // Deferred export: {"job_id", "status_url"}, then poll.
  auto body = co_await (*conn)->read_body_all(options_.json_limit);
  if (!body) co_return network_failure(body.error(), &control, what);
  client_.release(std::move(*conn));
  auto status_url = accepted_status_url(*url, *head, *body);
  if (!status_url) co_return status_url.error();
  if (on_progress) on_progress("deferred export, polling " + path_of(*status_url));
  co_return co_await poll_status(app, *status_url, control);
}

asio::awaitable<outcome<export_stream>> exporter::poll_status(const app_record& app,
                                                              const parsed_url& status_url,
                                                              job_control& control) {
  const std::string what = "GET status_url";
  deferred_poll polling(options_.poll_initial, options_.poll_max);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    if (control.stopped()) co_return control.reason();
    auto conn = co_await client_.acquire(status_url.origin);
    if (!conn) co_return network_failure(conn.error(), &control, what);
    const auto poll_request = bearer_request("GET", status_url.target, app);
    auto head = co_await request_until_stopped(**conn, poll_request, control);
    if (!head) co_return network_failure(head.error(), &control, what);
    if (head->status == 202) {
      (void)co_await (*conn)->discard_body(options_.json_limit);
      client_.release(std::move(*conn));
      const auto wait =
          polling.next_delay(head->header("Retry-After"), std::chrono::system_clock::now());
      if (control.stopped()) co_return control.reason();
      timer.expires_after(wait);
      co_await timer.async_wait(
          asio::bind_cancellation_slot(control.slot(), asio::as_tuple(asio::use_awaitable)));
      continue;
    }
    if (head->status == 303) {
      (void)co_await (*conn)->discard_body(options_.json_limit);
      client_.release(std::move(*conn));
      auto location = head->header("Location");
      if (!location)
        co_return fail(errc::app_contract_violation,
                       "303 from the export status URL without Location");
      auto dl = resolve_url(status_url, *location);
      if (!dl) co_return fail(errc::app_contract_violation, "bad Location: " + dl.error().message);
      co_return co_await get_download(app, *dl, 0, control, max_redirects);
    }
    if (head->status == 200 && is_status_document(*head)) {
      auto doc = co_await (*conn)->read_body_all(options_.json_limit);
      if (!doc) co_return network_failure(doc.error(), &control, what);
      client_.release(std::move(*conn));
      co_return status_document_failure(*doc);
    }
    if (head->status != 200) co_return status_failure(head->status, what);
    auto stream = read_contract_headers(*head);
    if (!stream) co_return stream;
    stream->body = std::make_unique<connection_body>(std::move(*conn));
    stream->download_url = to_string(status_url);
    co_return stream;
  }
}

asio::awaitable<outcome<export_stream>> exporter::reopen(const app_record& app,
                                                         const std::string& download_url,
                                                         std::uint64_t offset,
                                                         job_control& control) {
  auto url = parse_http_url(download_url);
  if (!url)
    co_return fail(errc::app_contract_violation, "bad download URL: " + url.error().message);
  co_return co_await get_download(app, *url, offset, control, max_redirects);
}

std::unique_ptr<contract_client> make_contract_client(http_client& client,
                                                      exporter_options options) {
  return std::make_unique<exporter>(client, options);
}

}  // namespace respaldo
