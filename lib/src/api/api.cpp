// The api object: builds the router from the routing table and answers each request with
// authentication, routing (404 / 405 with Allow), the handler and the request counter.
#include "respaldo/api/api.hpp"

#include <algorithm>
#include <array>

#include "context.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/problem.hpp"
#include "routes.hpp"

namespace respaldo {

namespace asio = boost::asio;

namespace {

download_signer signer_for(const std::string& key) {
  return download_signer(key.empty() ? random_token(32) : key);
}

}  // namespace

struct api::impl {
  // A copy, not a move: the braced list reads the key after its first element is made.
  explicit impl(const api_services& s) : ctx{s, signer_for(s.download_link_key)} {}
  api_detail::api_context ctx;
  router table;

  // Requests by method, route pattern (not the raw path, which would make a series per app)
  // and status. Methods outside the known set share one label for the same reason.
  void count_request(std::string_view method, const std::string& route, unsigned status) {
    static constexpr std::array<std::string_view, 7> known = {"GET", "POST", "PATCH",  "DELETE",
                                                              "PUT", "HEAD", "OPTIONS"};
    const bool is_known = std::find(known.begin(), known.end(), method) != known.end();
    ctx.svc.stats.add("respaldo_http_requests_total", 1,
                      {{"method", is_known ? std::string(method) : std::string("other")},
                       {"route", route},
                       {"status", std::to_string(status)}});
  }

  asio::awaitable<http_response> dispatch(http_request& req) {
    std::string route = "unmatched";
    auto res = co_await route_request(req, route);
    count_request(req.method, route, res.status);
    co_return res;
  }

  asio::awaitable<http_response> route_request(http_request& req, std::string& route) {
    auto m = table.match(req.method, req.path);
    if (!m.pattern.empty()) route = m.pattern;
    if (auto refused = api_detail::refuse_unauthenticated(ctx, req)) co_return std::move(*refused);
    if (m.result == route_match::outcome::not_found)
      co_return problem(404, "not_found", "no resource at " + req.path);
    if (m.result == route_match::outcome::method_not_allowed) {
      auto res = problem(405, "method_not_allowed",
                         req.method + " is not supported on " + req.path + "; use " + m.allow);
      res.set_header("Allow", m.allow);
      co_return res;
    }
    req.path_params = std::move(m.params);
    co_return co_await (*m.handler)(req);
  }
};

api::api(api_services services) : impl_(std::make_unique<impl>(std::move(services))) {
  impl_->ctx.svc.stats.describe("respaldo_http_requests_total", metrics::kind::counter,
                                "API requests answered, by method, route and status.");
  api_detail::api_context* ctx = &impl_->ctx;
  for (const auto& r : api_detail::route_table()) {
    auto handler = r.handler;
    impl_->table.add(r.method, r.pattern,
                     [ctx, handler](http_request& req) { return handler(*ctx, req); });
  }
}

api::~api() = default;

asio::awaitable<http_response> api::handle(http_request& req) {
  return impl_->dispatch(req);
}

const router& api::routes() const {
  return impl_->table;
}

router api::describe_routes() {
  router r;
  for (const auto& e : api_detail::route_table())
    r.add(e.method, e.pattern,
          [](http_request&) -> asio::awaitable<http_response> { co_return empty_response(501); });
  return r;
}

}  // namespace respaldo
