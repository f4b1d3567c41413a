// Validation of notifier bodies (POST /api/notifiers, PATCH /api/notifiers/{name}).
#include <algorithm>
#include <array>
#include <boost/url/parse.hpp>

#include "respaldo/api/validation.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 7> notifier_fields = {"name",   "kind", "url",    "secret",
                                                             "events", "apps", "enabled"};
constexpr std::size_t max_url = 2048;
constexpr std::size_t max_secret = 4096;
constexpr std::size_t max_apps = 1000;

failure bad(std::string_view field, std::string message, errc code = errc::validation_failed) {
  return failure{make_error_code(code), std::move(message), std::string(field)};
}

std::string event_names_list(const std::vector<event_kind>& kinds) {
  std::string out;
  for (auto k : kinds) out += (out.empty() ? "" : ", ") + std::string(to_string(k));
  return out;
}

// What healthchecks pings can say: start, success, failure.
bool healthchecks_event(event_kind k) {
  return k == event_kind::backup_started || k == event_kind::backup_succeeded ||
         k == event_kind::backup_failed;
}

outcome<void> check_unknown_fields(const json::object& body) {
  for (const auto& [key, value] : body) {
    (void)value;
    if (std::find(notifier_fields.begin(), notifier_fields.end(), key) == notifier_fields.end())
      return bad(key, "unknown field \"" + std::string(key) +
                          "\"; allowed fields are name, kind, url, secret, events, apps, enabled");
  }
  return {};
}

outcome<void> read_url(const json::value& v, notifier_record& n) {
  if (!v.is_string()) return bad("url", "url must be a string (an http or https URL)");
  const std::string url(v.as_string());
  if (url.size() > max_url)
    return bad("url", "url must be at most " + std::to_string(max_url) + " bytes long");
  auto parsed = parse_http_url(url);
  if (!parsed)
    return bad("url",
               "url must be an absolute http or https URL with a host: " + parsed.error().message);
  if (auto uri = boost::urls::parse_uri(url); uri && uri->has_userinfo())
    return bad("url", "url must not carry credentials (user:password@); use secret instead");
  n.url = url;
  const auto& o = parsed->origin;
  const bool ipv6 = o.host.find(':') != std::string::npos;
  const std::string host = ipv6 ? "[" + o.host + "]" : o.host;
  const bool default_port = o.port == (o.tls ? "443" : "80");
  n.url_host = default_port ? host : host + ":" + o.port;
  return {};
}

outcome<void> read_events(const json::value& v, notifier_record& n) {
  if (!v.is_array() || v.as_array().empty())
    return bad("events", "events must be a non-empty array of event names: " +
                             event_names_list(all_event_kinds()));
  std::vector<event_kind> events;
  for (const auto& item : v.as_array()) {
    auto kind = item.is_string() ? parse_event_kind(item.as_string()) : std::nullopt;
    if (!kind || *kind == event_kind::notifier_test)
      return bad("events", "unknown event " +
                               (item.is_string() ? "\"" + std::string(item.as_string()) + "\""
                                                 : std::string("(not a string)")) +
                               "; known events are " + event_names_list(all_event_kinds()));
    if (n.kind == notifier_kind::healthchecks && !healthchecks_event(*kind))
      return bad("events",
                 "a healthchecks notifier pings only for backup.started, "
                 "backup.succeeded and backup.failed, not " +
                     std::string(to_string(*kind)));
    if (std::find(events.begin(), events.end(), *kind) == events.end()) events.push_back(*kind);
  }
  n.events = std::move(events);
  return {};
}

outcome<void> read_apps(const json::value& v, notifier_record& n) {
  if (v.is_null()) {
    n.apps.clear();
    return {};
  }
  if (!v.is_array() || v.as_array().size() > max_apps)
    return bad("apps", "apps must be an array of at most " + std::to_string(max_apps) +
                           " app names, or null for every app");
  std::vector<std::string> apps;
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return bad("apps", "apps must hold app names (strings)");
    const std::string name(item.as_string());
    if (auto ok = check_app_name(name); !ok) return bad("apps", "apps: " + ok.error().message);
    if (std::find(apps.begin(), apps.end(), name) == apps.end()) apps.push_back(name);
  }
  n.apps = std::move(apps);
  return {};
}

outcome<void> read_secret(const json::value& v, notifier_record& n) {
  if (!v.is_string() || v.as_string().empty() || v.as_string().size() > max_secret)
    return bad("secret", "secret must be a string of 1 to " + std::to_string(max_secret) +
                             " bytes (the webhook signing key)");
  if (n.kind != notifier_kind::webhook)
    return bad("secret", "only webhook notifiers sign their requests; leave secret out for a " +
                             std::string(to_string(n.kind)) + " notifier");
  n.secret = std::string(v.as_string());
  return {};
}

// url, secret, events, apps and enabled of `body`, on top of what `n` holds.
outcome<void> read_mutable(const json::object& body, notifier_record& n, bool& clear_secret) {
  if (auto it = body.find("url"); it != body.end())
    if (auto ok = read_url(it->value(), n); !ok) return ok;
  if (auto it = body.find("secret"); it != body.end()) {
    if (it->value().is_null()) {
      clear_secret = true;
      n.secret.clear();
    } else if (auto ok = read_secret(it->value(), n); !ok) {
      return ok;
    }
  }
  if (auto it = body.find("events"); it != body.end())
    if (auto ok = read_events(it->value(), n); !ok) return ok;
  if (auto it = body.find("apps"); it != body.end())
    if (auto ok = read_apps(it->value(), n); !ok) return ok;
  if (auto it = body.find("enabled"); it != body.end()) {
    if (!it->value().is_bool()) return bad("enabled", "enabled must be true or false");
    n.enabled = it->value().as_bool();
    if (n.enabled) n.disabled_reason.clear();
  }
  return {};
}

}  // namespace

outcome<notifier_record> validate_notifier(const json::value& value) {
  if (!value.is_object()) return bad("", "the body must be a JSON object with name, kind and url");
  const auto& body = value.as_object();
  if (auto ok = check_unknown_fields(body); !ok) return ok.error();
  for (std::string_view f : {"name", "kind", "url"})
    if (!body.contains(f)) return bad(f, std::string(f) + " is required");
  notifier_record n;
  const auto& name = body.at("name");
  if (!name.is_string()) return bad("name", "name must be a string");
  n.name = std::string(name.as_string());
  if (auto ok = check_app_name(n.name); !ok) return bad("name", ok.error().message);
  const auto& kind = body.at("kind");
  auto parsed = kind.is_string() ? parse_notifier_kind(kind.as_string()) : std::nullopt;
  if (!parsed) return bad("kind", "kind must be one of webhook, slack, healthchecks");
  n.kind = *parsed;
  n.events = n.kind == notifier_kind::healthchecks
                 ? std::vector<event_kind>{event_kind::backup_started, event_kind::backup_succeeded,
                                           event_kind::backup_failed}
                 : default_event_kinds();
  bool clear_secret = false;
  if (auto ok = read_mutable(body, n, clear_secret); !ok) return ok.error();
  return n;
}

outcome<notifier_record> apply_notifier_patch(const notifier_record& n, const json::value& patch,
                                              bool& clear_secret) {
  clear_secret = false;
  if (!patch.is_object()) return bad("", "the body must be a JSON object (a merge patch)");
  const auto& body = patch.as_object();
  if (auto ok = check_unknown_fields(body); !ok) return ok.error();
  for (std::string_view f : {"name", "kind"})
    if (body.contains(f))
      return bad(f, std::string(f) + " cannot be changed; delete the notifier and create it again",
                 errc::immutable_field);
  notifier_record next = n;
  if (auto ok = read_mutable(body, next, clear_secret); !ok) return ok.error();
  return next;
}

}  // namespace respaldo
