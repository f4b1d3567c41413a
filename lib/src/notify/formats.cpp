#include "respaldo/notify/formats.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "respaldo/core/json_values.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {
namespace {

namespace json = boost::json;

outcome<json::object> parse_document(std::string_view document) {
  boost::system::error_code ec;
  auto v = json::parse(document, ec);
  if (ec || !v.is_object() || !v.as_object().contains("event"))
    return failure{make_error_code(errc::invalid_argument),
                   "the stored event document is not valid JSON of an event"};
  return std::move(v.as_object());
}

std::string member(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

// The ping URL with `suffix` ("/start", "/fail") added to its path, before any query.
std::string ping_url(std::string_view url, std::string_view suffix) {
  const auto query = url.find('?');
  std::string path(url.substr(0, query));
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string out = path + std::string(suffix);
  if (query != std::string_view::npos) out += url.substr(query);
  return out;
}

notify_request healthchecks_request(std::string_view url, const json::object& doc,
                                    event_kind kind) {
  notify_request r;
  r.content_type = "text/plain; charset=utf-8";
  switch (kind) {
    case event_kind::backup_started:
      r.url = ping_url(url, "/start");
      break;
    case event_kind::backup_succeeded:
    case event_kind::notifier_test:
      r.url = std::string(url);
      r.body = "respaldo: " + member(doc, "event") + " " + member(doc, "app");
      break;
    default: {
      r.url = ping_url(url, "/fail");
      const auto* error = doc.if_contains("error");
      if (error && error->is_object())
        r.body = member(error->as_object(), "code") + ": " + member(error->as_object(), "message");
      else
        r.body = member(doc, "event");
      break;
    }
  }
  return r;
}

}  // namespace

std::string event_document(const event_record& e, std::string_view delivery_id,
                           std::string_view public_url) {
  json::object doc;
  doc["delivery_id"] = delivery_id;
  doc["event"] = to_string(e.kind);
  doc["app"] = text_or_null(e.app);
  if (e.job_id.empty()) {
    doc["job"] = nullptr;
  } else {
    json::object job{{"id", e.job_id}};
    if (!public_url.empty()) job["url"] = std::string(public_url) + "/api/jobs/" + e.job_id;
    doc["job"] = std::move(job);
  }
  doc["backup"] =
      e.backup_id.empty() ? json::value(nullptr) : json::value(json::object{{"id", e.backup_id}});
  if (e.error_code.empty())
    doc["error"] = nullptr;
  else
    doc["error"] = json::object{{"code", e.error_code}, {"message", e.error_message}};
  doc["at"] = format_rfc3339_utc(e.at);
  doc["started_at"] = time_or_null(e.started_at);
  doc["finished_at"] = time_or_null(e.finished_at);
  return json::serialize(doc);
}

outcome<std::string> event_summary(std::string_view document) {
  auto doc = parse_document(document);
  if (!doc) return doc.error();
  std::string line = "[respaldo] " + member(*doc, "event");
  if (auto app = member(*doc, "app"); !app.empty()) line += " " + app;
  const auto* error = doc->if_contains("error");
  if (error && error->is_object()) {
    const auto& e = error->as_object();
    line += ": " + member(e, "code");
    if (auto message = member(e, "message"); !message.empty()) line += ": " + message;
  }
  const auto* job = doc->if_contains("job");
  if (job && job->is_object()) {
    const auto url = member(job->as_object(), "url");
    line += " (job " + (url.empty() ? member(job->as_object(), "id") : url) + ")";
  }
  // One line: newlines from an app's error message would break it.
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return line;
}

std::string webhook_signature(std::string_view secret, std::string_view body) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

outcome<notify_request> format_delivery(notifier_kind kind, std::string_view url,
                                        std::string_view secret, const delivery_record& row) {
  auto doc = parse_document(row.document);
  if (!doc) return doc.error();
  if (kind == notifier_kind::healthchecks) return healthchecks_request(url, *doc, row.event);
  notify_request r;
  r.url = std::string(url);
  r.content_type = "application/json";
  if (kind == notifier_kind::slack) {
    auto text = event_summary(row.document);
    if (!text) return text.error();
    r.body = json::serialize(json::object{{"text", *text}});
    return r;
  }
  r.body = row.document;
  r.headers.push_back({"X-Respaldo-Event", std::string(to_string(row.event))});
  r.headers.push_back({"X-Respaldo-Delivery", row.id});
  if (!secret.empty())
    r.headers.push_back({"X-Respaldo-Signature", webhook_signature(secret, r.body)});
  return r;
}

}  // namespace respaldo
