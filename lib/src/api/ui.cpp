// The dashboard: GET / is its page, GET /ui/{file} its scripts, styles and errors.json, all
// compiled into the binary (api/web_assets). No token is needed to load them (they hold no data;
// the page asks for the token and sends it to /api/*). Strict headers on every answer here.
#include "context.hpp"
#include "respaldo/api/web_assets.hpp"
#include "respaldo/http/problem.hpp"

namespace respaldo::api_detail {
namespace {

void add_ui_headers(http_response& res) {
  res.set_header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
}

const web_asset* find_asset(std::string_view path) {
  for (const auto& a : web_assets())
    if (a.path == path) return &a;
  return nullptr;
}

// The asset, or 304 when the client holds this version; revalidated on every load (no-cache),
// so a new binary's page is never mixed with an old script.
http_response asset_response(const http_request& req, const web_asset& a) {
  http_response res;
  if (auto held = req.header("If-None-Match"); held && *held == a.etag) {
    res.status = 304;
  } else {
    res.status = 200;
    res.body = std::string(a.body);
    res.set_header("Content-Type", std::string(a.content_type));
  }
  res.set_header("ETag", std::string(a.etag));
  res.set_header("Cache-Control", "no-cache");
  add_ui_headers(res);
  return res;
}

}  // namespace

handler_result ui_index(api_context&, http_request& req) {
  const auto* a = find_asset("/ui/index.html");
  if (!a) co_return problem(404, "not_found", "this build has no dashboard");
  co_return asset_response(req, *a);
}

handler_result ui_asset(api_context&, http_request& req) {
  const auto* a = find_asset(req.path);
  if (!a) {
    auto res = problem(404, "not_found", "no dashboard file at " + req.path);
    add_ui_headers(res);
    co_return res;
  }
  co_return asset_response(req, *a);
}

}  // namespace respaldo::api_detail
