#include "respaldo/api/validation.hpp"

#include <array>
#include <boost/url/parse.hpp>
#include <charconv>

#include "respaldo/core/error.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/plan/cron.hpp"
#include "respaldo/plan/retention.hpp"

namespace respaldo {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 9> known_fields = {
    "name",      "url",      "token",           "drive_folder_id", "schedule",
    "retention", "timezone", "verify_schedule", "stale_after"};
constexpr std::array<std::string_view, 6> required_fields = {
    "name", "url", "token", "drive_folder_id", "schedule", "retention"};

std::string_view json_kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

// Success, or the first field that is wrong.
using field_check = outcome<void>;

failure bad_field(std::string_view field, std::string message,
                  errc code = errc::validation_failed) {
  return failure{make_error_code(code), std::move(message), std::string(field)};
}

// A rule's failure, told as a failure of `field`.
field_check in_field(std::string_view field, outcome<void> checked) {
  if (checked) return {};
  return bad_field(field, std::move(checked.error().message));
}

failure invalid(std::string message) {
  return failure{make_error_code(errc::invalid_argument), std::move(message)};
}

field_check string_field(const json::object& body, std::string_view name, std::string& out) {
  auto it = body.find(name);
  if (it == body.end()) return {};
  if (!it->value().is_string())
    return bad_field(std::string(name), std::string(name) + " must be a string, got " +
                                            std::string(json_kind(it->value())));
  out = std::string(it->value().as_string());
  return {};
}

field_check check_token(std::string_view token) {
  if (token.empty() || token.size() > 4096)
    return bad_field("token",
                     "token must be 1 to 4096 bytes long, got " + std::to_string(token.size()));
  return {};
}

field_check check_schedule(std::string_view field, std::string_view expr) {
  auto parsed = cron_schedule::parse(expr);
  if (!parsed)
    return bad_field(std::string(field), std::string(field) + " is not a valid cron expression: " +
                                             parsed.error().message);
  // can_fire covers a whole 400-year cycle, so a false answer means never.
  if (!parsed->can_fire())
    return bad_field(std::string(field),
                     std::string(field) + " \"" + escaped_excerpt(parsed->expression(), 120) +
                         "\" never fires: no fire time within the next 400 years (the "
                         "day-of-month does not exist in the months listed); pick a day that "
                         "exists in them, or restrict day-of-week too");
  return {};
}

// null (or absent at registration) means the default derived from the schedule.
field_check read_stale_after(const json::object& body, app_record& app) {
  auto it = body.find("stale_after");
  if (it == body.end()) return {};
  if (it->value().is_null()) {
    app.stale_after.reset();
    return {};
  }
  auto bad = [&](std::string got) {
    return bad_field("stale_after",
                     "stale_after must be a duration of whole seconds, at least 1s, such as "
                     "\"90m\", \"36h\" or \"2d\" (null: twice the longest gap of the schedule), "
                     "got " +
                         got);
  };
  if (!it->value().is_string()) return bad(std::string(json_kind(it->value())));
  const std::string text(it->value().as_string());
  const auto d = parse_duration(text);
  if (!d || d->count() < 1000 || d->count() % 1000 != 0)
    return bad("\"" + escaped_excerpt(text, 64) + "\"");
  app.stale_after = std::chrono::duration_cast<std::chrono::seconds>(*d);
  return {};
}

field_check check_timezone(std::string_view tz) {
  if (!find_time_zone(tz))
    return bad_field("timezone",
                     "timezone must be an IANA time zone name such as "
                     "\"Europe/Madrid\" or \"UTC\", got \"" +
                         escaped_excerpt(tz, 80) + "\"");
  return {};
}

// Fields shared by registration and patch; `present` tells which ones the body carries.
field_check read_fields(const json::object& body, app_record& app) {
  for (const auto& [key, value] : body) {
    bool known = false;
    for (auto f : known_fields) known = known || key == f;
    if (!known)
      return bad_field(escaped_excerpt(key, 80),
                       "unknown field \"" + escaped_excerpt(key, 80) +
                           "\"; allowed fields are name, url, token, "
                           "drive_folder_id, schedule, retention, timezone, "
                           "verify_schedule, stale_after");
    (void)value;
  }
  if (auto e = string_field(body, "name", app.name); !e) return e;
  if (auto e = string_field(body, "url", app.url); !e) return e;
  if (auto e = string_field(body, "token", app.token); !e) return e;
  if (auto e = string_field(body, "drive_folder_id", app.drive_folder_id); !e) return e;
  if (auto e = string_field(body, "schedule", app.schedule); !e) return e;
  if (auto it = body.find("timezone"); it != body.end() && !it->value().is_null()) {
    if (auto e = string_field(body, "timezone", app.timezone); !e) return e;
  } else if (it != body.end()) {
    app.timezone.clear();
  }
  if (auto it = body.find("verify_schedule"); it != body.end() && !it->value().is_null()) {
    if (auto e = string_field(body, "verify_schedule", app.verify_schedule); !e) return e;
  } else if (it != body.end()) {
    app.verify_schedule.clear();
  }
  if (auto it = body.find("retention"); it != body.end()) {
    if (!it->value().is_object())
      return bad_field("retention",
                       "retention must be an object such as {\"daily\": 7, "
                       "\"weekly\": 4}, got " +
                           std::string(json_kind(it->value())));
    auto policy = parse_retention_policy(it->value());
    if (!policy) return bad_field("retention", policy.error().message);
    app.retention = *policy;
  }
  return read_stale_after(body, app);
}

field_check check_all(const json::object& body, const app_record& app) {
  if (body.contains("name"))
    if (auto e = in_field("name", check_app_name(app.name)); !e) return e;
  if (body.contains("url"))
    if (auto e = in_field("url", check_app_url(app.url)); !e) return e;
  if (body.contains("token"))
    if (auto e = check_token(app.token); !e) return e;
  if (body.contains("drive_folder_id"))
    if (auto e = in_field("drive_folder_id", check_drive_folder_id(app.drive_folder_id)); !e)
      return e;
  if (body.contains("schedule"))
    if (auto e = check_schedule("schedule", app.schedule); !e) return e;
  // null clears these two; any string given, the empty one included, must be valid.
  auto given = [&](std::string_view f) {
    auto it = body.find(f);
    return it != body.end() && !it->value().is_null();
  };
  if (given("timezone"))
    if (auto e = check_timezone(app.timezone); !e) return e;
  if (given("verify_schedule"))
    if (auto e = check_schedule("verify_schedule", app.verify_schedule); !e) return e;
  return {};
}

}  // namespace

outcome<void> check_app_name(std::string_view name) {
  auto bad = [&] {
    return invalid(
        "name must be a DNS label: 1 to 63 characters of a-z, 0-9 and '-', starting and "
        "ending with a letter or digit, got \"" +
        escaped_excerpt(name, 80) + "\"");
  };
  if (name.empty() || name.size() > 63) return bad();
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return bad();
  if (name.front() == '-' || name.back() == '-') return bad();
  return {};
}

outcome<void> check_app_url(std::string_view url) {
  // parse_uri (not parse_absolute_uri) so that a fragment gets its own message below.
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed)
    return invalid(
        "url must be an absolute http or https URL such as \"http://mi-app:8000\", got \"" +
        escaped_excerpt(url, 300) + "\"");
  if (parsed->scheme_id() != boost::urls::scheme::http &&
      parsed->scheme_id() != boost::urls::scheme::https)
    return invalid("url must use http or https, got \"" + std::string(parsed->scheme()) + "\"");
  if (!parsed->has_authority() || parsed->encoded_host().empty())
    return invalid("url must name a host, as in \"http://mi-app:8000\"");
  if (parsed->has_userinfo())
    return invalid(
        "url must not carry credentials (user:password@); the token field holds the secret");
  if (parsed->has_fragment())
    return invalid(
        "url must not have a fragment (#...); give the app's base URL such as "
        "\"http://mi-app:8000\"");
  if (parsed->has_port() && !parsed->port().empty()) {
    // Boost.URL accepts any digits as a port; a port the app cannot listen on is a typo.
    const auto port = parsed->port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value < 1 || value > 65535)
      return invalid("url port must be 1 to 65535, got \"" + std::string(port) + "\"");
  }
  // A query is allowed to pass through.
  return {};
}

outcome<void> check_drive_folder_id(std::string_view id) {
  auto bad = [&] {
    return invalid(
        "drive_folder_id must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-', got \"" +
        escaped_excerpt(id, 300) + "\"");
  };
  if (id.empty() || id.size() > 256) return bad();
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return bad();
  return {};
}

outcome<app_record> validate_registration(const json::value& body) {
  if (!body.is_object())
    return bad_field("",
                     "the request body must be a JSON object with the fields name, url, "
                     "token, drive_folder_id, schedule and retention");
  const auto& obj = body.as_object();
  app_record app;
  if (auto e = read_fields(obj, app); !e) return e.error();
  for (auto f : required_fields)
    if (!obj.contains(f))
      return bad_field(std::string(f), "missing required field \"" + std::string(f) + "\"");
  const auto& policy = obj.at("retention").as_object();
  for (auto rule : {"daily", "weekly"})
    if (!policy.contains(rule))
      return bad_field("retention", std::string("retention needs \"") + rule +
                                        "\" (a count, 0 to disable), as in {\"daily\": 7, "
                                        "\"weekly\": 4}");
  if (auto e = check_all(obj, app); !e) return e.error();
  return app;
}

outcome<app_record> apply_app_patch(const app_record& app, const json::value& patch) {
  if (!patch.is_object())
    return bad_field("", "the request body must be a JSON object holding the fields to change");
  const auto& obj = patch.as_object();
  if (obj.contains("name"))
    return bad_field("name", "name cannot be changed; register a new app instead",
                     errc::immutable_field);
  for (auto f : required_fields)
    if (auto it = obj.find(f); it != obj.end() && it->value().is_null())
      return bad_field(std::string(f), std::string(f) + " cannot be removed (null)");
  // RFC 7396: a nested object merges into the current one, and null removes a member.
  json::object merged = obj;
  if (auto it = merged.find("retention"); it != merged.end() && it->value().is_object()) {
    json::object policy = to_json(app.retention);
    for (const auto& [k, v] : it->value().as_object()) {
      if (v.is_null())
        policy.erase(k);
      else
        policy[k] = v;
    }
    it->value() = std::move(policy);
  }
  app_record updated = app;
  if (auto e = read_fields(merged, updated); !e) return e.error();
  if (auto e = check_all(merged, updated); !e) return e.error();
  return updated;
}

}  // namespace respaldo
