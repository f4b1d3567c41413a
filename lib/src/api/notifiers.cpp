// /api/notifiers: notifiers (URL and secret sealed, never shown), a test delivery, and the recent
// deliveries of each.
#include <algorithm>
#include <boost/asio/ip/address.hpp>

#include "context.hpp"
#include "respaldo/core/clock.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/http/client/address_policy.hpp"
#include "respaldo/http/client/client.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/notify/outbox.hpp"
#include "respaldo/store/store.hpp"
#include "views.hpp"

namespace respaldo::api_detail {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;

http_response notifier_not_found(const std::string& name) {
  return problem(404, "notifier_not_found", "no notifier named \"" + name + "\"");
}

std::string millis_text(sys_millis t) {
  return format_rfc3339_utc(std::chrono::floor<std::chrono::seconds>(t));
}

json::object notifier_json(const notifier_record& n) {
  json::array events, apps;
  for (auto e : n.events) events.emplace_back(to_string(e));
  for (const auto& a : n.apps) apps.emplace_back(a);
  json::object o;
  o["name"] = n.name;
  o["kind"] = to_string(n.kind);
  o["url_host"] = n.url_host;
  o["has_secret"] = !n.sealed_secret.empty();
  o["events"] = std::move(events);
  o["apps"] = n.apps.empty() ? json::value(nullptr) : json::value(std::move(apps));
  o["enabled"] = n.enabled;
  o["disabled_reason"] =
      n.disabled_reason.empty() ? json::value(nullptr) : json::value(n.disabled_reason);
  o["created_at"] = format_rfc3339_utc(n.created_at);
  o["updated_at"] = format_rfc3339_utc(n.updated_at);
  return o;
}

json::object delivery_json(const delivery_record& d) {
  json::object o;
  o["id"] = d.id;
  o["event"] = to_string(d.event);
  o["app"] = d.app.empty() ? json::value(nullptr) : json::value(d.app);
  o["state"] = to_string(d.state);
  o["attempts"] = d.attempts;
  o["created_at"] = millis_text(d.created_at);
  o["next_attempt_at"] = d.state == delivery_state::pending
                             ? json::value(millis_text(d.next_attempt_at))
                             : json::value(nullptr);
  o["last_attempt_at"] =
      d.last_attempt_at ? json::value(millis_text(*d.last_attempt_at)) : json::value(nullptr);
  o["last_status"] = d.last_status == 0 ? json::value(nullptr) : json::value(d.last_status);
  o["last_error"] = d.last_error.empty() ? json::value(nullptr) : json::value(d.last_error);
  return o;
}

// An IP-literal host the HTTP client would never connect to (link-local, unspecified,
// respaldo's own API) is refused at once; names are checked at every connection.
outcome<void> check_notifier_address(const api_context& ctx, const std::string& url) {
  auto parsed = parse_http_url(url);
  if (!parsed) return {};
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(parsed->origin.host, ec);
  if (ec) return {};
  address_policy policy;
  if (ctx.svc.app_addresses) policy.own = ctx.svc.app_addresses->own;
  const auto port = static_cast<unsigned short>(std::stoul(parsed->origin.port));
  if (auto ok = check_endpoint(policy, asio::ip::tcp::endpoint(address, port)); !ok)
    return failure{make_error_code(errc::validation_failed),
                   "url host is not allowed: " + ok.error().message, "url"};
  return {};
}

void seal(api_context& ctx, notifier_record& n) {
  if (!n.url.empty()) n.sealed_url = ctx.svc.tokens.seal(notifier_url_aad(n.name), n.url);
  if (!n.secret.empty())
    n.sealed_secret = ctx.svc.tokens.seal(notifier_secret_aad(n.name), n.secret);
}

}  // namespace

notification_snapshot read_notifications(const api_services& svc) {
  notification_snapshot s;
  auto notifiers = svc.db.list_notifiers();
  if (!notifiers) return s;
  s.notifiers = std::move(*notifiers);
  for (const auto& n : s.notifiers)
    if (n.enabled)
      if (auto recent = svc.db.list_deliveries(n.name, 50)) s.recent[n.name] = std::move(*recent);
  return s;
}

json::object app_notifications_json(const notification_snapshot& notes, const std::string& app) {
  json::array failing;
  for (const auto& n : notes.notifiers) {
    if (!n.apps.empty() && std::find(n.apps.begin(), n.apps.end(), app) == n.apps.end()) continue;
    bool bad = !n.enabled;
    if (auto it = notes.recent.find(n.name); !bad && it != notes.recent.end())
      for (const auto& d : it->second)
        if (d.app == app) {
          bad = d.state == delivery_state::failed ||
                (d.state == delivery_state::pending && d.attempts > 0);
          break;
        }
    if (bad) failing.emplace_back(n.name);
  }
  return json::object{{"failing", std::move(failing)}};
}

handler_result create_notifier(api_context& ctx, http_request& req) {
  auto body = read_json_body(req, {"application/json"});
  if (!body) co_return body.error();
  auto n = validate_notifier(*body);
  if (!n) co_return validation_problem(n.error());
  if (auto ok = check_notifier_address(ctx, n->url); !ok) co_return validation_problem(ok.error());
  auto existing = ctx.svc.db.list_notifiers();
  if (!existing) co_return store_failure();
  if (existing->size() >= ctx.svc.max_notifiers)
    co_return problem(409, "too_many_notifiers",
                      "at most " + std::to_string(ctx.svc.max_notifiers) +
                          " notifiers may exist; delete one first");
  n->created_at = n->updated_at = ctx.svc.clock.now();
  seal(ctx, *n);
  if (auto done = ctx.svc.db.insert_notifier(*n); !done) {
    if (done.error().code == errc::conflict)
      co_return problem(409, "notifier_exists",
                        "a notifier named \"" + n->name + "\" exists; PATCH /api/notifiers/" +
                            n->name + " to change it",
                        {{"field", "name"}});
    co_return store_failure();
  }
  ctx.svc.log.info("notifier created", {{"notifier", n->name},
                                        {"kind", std::string(to_string(n->kind))},
                                        {"host", n->url_host},
                                        {"request_id", req.request_id}});
  auto res = json_response(201, notifier_json(*n));
  res.set_header("Location", "/api/notifiers/" + n->name);
  co_return res;
}

handler_result list_notifiers(api_context& ctx, http_request&) {
  auto all = ctx.svc.db.list_notifiers();
  if (!all) co_return store_failure();
  json::array items;
  for (const auto& n : *all) items.push_back(notifier_json(n));
  co_return json_response(200, json::object{{"items", std::move(items)}});
}

handler_result get_notifier(api_context& ctx, http_request& req) {
  const auto& name = req.param("name");
  auto n = ctx.svc.db.get_notifier(name);
  if (!n) co_return store_failure();
  if (!*n) co_return notifier_not_found(name);
  co_return json_response(200, notifier_json(**n));
}

handler_result update_notifier(api_context& ctx, http_request& req) {
  const auto& name = req.param("name");
  auto body = read_json_body(req, {"application/json", "application/merge-patch+json"});
  if (!body) co_return body.error();
  auto n = ctx.svc.db.get_notifier(name);
  if (!n) co_return store_failure();
  if (!*n) co_return notifier_not_found(name);
  bool clear_secret = false;
  auto patched = apply_notifier_patch(**n, *body, clear_secret);
  if (!patched) co_return validation_problem(patched.error());
  if (!patched->url.empty())
    if (auto ok = check_notifier_address(ctx, patched->url); !ok)
      co_return validation_problem(ok.error());
  patched->updated_at = ctx.svc.clock.now();
  patched->sealed_url.clear();  // empty keeps the stored sealed values
  patched->sealed_secret.clear();
  seal(ctx, *patched);
  if (auto done = ctx.svc.db.update_notifier(*patched, clear_secret); !done) {
    if (done.error().code == errc::not_found) co_return notifier_not_found(name);
    co_return store_failure();
  }
  ctx.svc.log.info("notifier updated", {{"notifier", name}, {"request_id", req.request_id}});
  auto fresh = ctx.svc.db.get_notifier(name);
  if (!fresh || !*fresh) co_return store_failure();
  co_return json_response(200, notifier_json(**fresh));
}

handler_result delete_notifier(api_context& ctx, http_request& req) {
  const auto& name = req.param("name");
  if (auto done = ctx.svc.db.delete_notifier(name); !done) {
    if (done.error().code == errc::not_found) co_return notifier_not_found(name);
    co_return store_failure();
  }
  ctx.svc.log.info("notifier deleted", {{"notifier", name}, {"request_id", req.request_id}});
  co_return empty_response(204);
}

handler_result test_notifier(api_context& ctx, http_request& req) {
  const auto& name = req.param("name");
  auto n = ctx.svc.db.get_notifier(name);
  if (!n) co_return store_failure();
  if (!*n) co_return notifier_not_found(name);
  if (!ctx.svc.notifications)
    co_return problem(503, "notifications_unavailable", "notifications are not running");
  event_record e;
  e.kind = event_kind::notifier_test;
  e.at = ctx.svc.clock.now();
  auto d = ctx.svc.notifications->enqueue(**n, e);
  if (!d) co_return store_failure();
  auto res = json_response(
      202, json::object{{"delivery_id", d->id},
                        {"deliveries_url", "/api/notifiers/" + name + "/deliveries"}});
  res.set_header("Location", "/api/notifiers/" + name + "/deliveries");
  co_return res;
}

handler_result list_deliveries(api_context& ctx, http_request& req) {
  const auto& name = req.param("name");
  auto limit = read_limit(req);
  if (!limit) co_return limit.error();
  auto n = ctx.svc.db.get_notifier(name);
  if (!n) co_return store_failure();
  if (!*n) co_return notifier_not_found(name);
  auto rows = ctx.svc.db.list_deliveries(name, *limit);
  if (!rows) co_return store_failure();
  json::array items;
  for (const auto& d : *rows) items.push_back(delivery_json(d));
  co_return json_response(200, json::object{{"items", std::move(items)}});
}

}  // namespace respaldo::api_detail
