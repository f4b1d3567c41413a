// --app-networks at registration and PATCH: the registered URL's host must lie inside the
// operator's blocks. A name is resolved here (briefly); one that does not resolve yet is
// accepted, since every connection is checked again against the address it resolves to then.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>

#include "context.hpp"
#include "respaldo/http/client/address_policy.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo::api_detail {
namespace {

namespace asio = boost::asio;
constexpr std::chrono::seconds resolve_budget{2};

failure outside(const std::string& host, const failure& why) {
  return failure{make_error_code(errc::validation_failed),
                 "url host " + host + " is not allowed: " + why.message +
                     "; register the app by an address inside --app-networks",
                 "url"};
}

// Resolves a name, or gives no address if it does not resolve within the budget.
asio::awaitable<std::vector<asio::ip::address>> resolve_briefly(const std::string& host) {
  const auto deadline = std::chrono::steady_clock::now() + resolve_budget;
  // Named first: g++ 12 destroys a braced temporary inside a co_await expression twice.
  const http_origin origin{false, host, ""};
  auto ex = co_await asio::this_coro::executor;
  auto results = co_await resolve_origin(ex, origin, deadline);
  std::vector<asio::ip::address> out;
  if (results)
    for (const auto& r : *results) out.push_back(r.endpoint().address());
  co_return out;
}

}  // namespace

asio::awaitable<outcome<void>> check_app_url_address(const api_context& ctx,
                                                     const std::string& url) {
  const address_policy* policy = ctx.svc.app_addresses;
  if (!policy || policy->app_networks.empty()) co_return outcome<void>{};
  auto parsed = parse_http_url(url);
  if (!parsed) co_return outcome<void>{};  // validation has refused it already
  const std::string& host = parsed->origin.host;
  boost::system::error_code ec;
  const auto literal = asio::ip::make_address(host, ec);
  std::vector<asio::ip::address> addresses;
  if (!ec)
    addresses.push_back(literal);
  else
    addresses = co_await resolve_briefly(host);
  for (const auto& a : addresses)
    if (auto ok = check_app_address(*policy, a); !ok) co_return outside(host, ok.error());
  co_return outcome<void>{};
}

}  // namespace respaldo::api_detail
