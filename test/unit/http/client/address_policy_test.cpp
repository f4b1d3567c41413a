// Where app connections may go: the never-list, respaldo's own API and --app-networks.
#include "respaldo/http/client/address_policy.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

namespace ip = boost::asio::ip;
using respaldo::address_policy;
using respaldo::errc;

ip::tcp::endpoint at(const char* address, unsigned short port) {
  return {ip::make_address(address), port};
}

}  // namespace

TEST_CASE("address blocks parse and contain", "[address_policy]") {
  auto nets = respaldo::parse_ip_networks("10.0.0.0/8, 192.168.1.7 ,fd00::/8,172.16.0.0/12");
  REQUIRE(nets.has_value());
  REQUIRE(nets->size() == 4);
  CHECK(respaldo::contains((*nets)[0], ip::make_address("10.255.0.1")));
  CHECK_FALSE(respaldo::contains((*nets)[0], ip::make_address("11.0.0.1")));
  CHECK(respaldo::contains((*nets)[1], ip::make_address("192.168.1.7")));
  CHECK_FALSE(respaldo::contains((*nets)[1], ip::make_address("192.168.1.8")));
  CHECK(respaldo::contains((*nets)[2], ip::make_address("fd12::1")));
  CHECK_FALSE(respaldo::contains((*nets)[2], ip::make_address("fe80::1")));
  CHECK(respaldo::contains((*nets)[3], ip::make_address("172.31.255.255")));
  CHECK_FALSE(respaldo::contains((*nets)[3], ip::make_address("172.32.0.0")));
  // An IPv4-mapped IPv6 address is the IPv4 address it carries.
  CHECK(respaldo::contains((*nets)[0], ip::make_address("::ffff:10.1.2.3")));
  CHECK_FALSE(respaldo::contains((*nets)[2], ip::make_address("10.1.2.3")));
  auto any = respaldo::parse_ip_network("0.0.0.0/0");
  REQUIRE(any.has_value());
  CHECK(respaldo::contains(*any, ip::make_address("203.0.113.9")));
  REQUIRE(respaldo::parse_ip_networks("").has_value());
  CHECK(respaldo::parse_ip_networks("")->empty());

  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0/8", "mi-app", "10.0.0.0/", "10/8",
                          "10.0.0.0/8x", "10.0.0.0/8,,"}) {
    INFO(bad);
    auto r = respaldo::parse_ip_networks(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
  }
}

TEST_CASE("link-local, unspecified and respaldo's own API are never connected to",
          "[address_policy]") {
  address_policy policy;
  policy.own.push_back(at("127.0.0.1", 8080));
  for (const char* bad :
       {"169.254.169.254", "169.254.0.1", "fe80::1", "0.0.0.0", "::", "::ffff:169.254.169.254"}) {
    INFO(bad);
    auto r = respaldo::check_endpoint(policy, at(bad, 80));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::app_contract_violation);
    CHECK_THAT(r.error().message, Catch::Contains("refusing to connect to"));
  }
  auto own = respaldo::check_endpoint(policy, at("127.0.0.1", 8080));
  REQUIRE_FALSE(own);
  CHECK_THAT(own.error().message, Catch::Contains("respaldo's own API"));
  CHECK(respaldo::check_endpoint(policy, at("127.0.0.1", 8081)));
  CHECK(respaldo::check_endpoint(policy, at("10.0.0.5", 8080)));
  CHECK(respaldo::check_endpoint(policy, at("169.253.255.255", 80)));

  // Listening on every address: the API is reachable over loopback at that port.
  address_policy wildcard;
  wildcard.own.push_back(at("0.0.0.0", 8080));
  CHECK_FALSE(respaldo::check_endpoint(wildcard, at("127.0.0.1", 8080)));
  CHECK_FALSE(respaldo::check_endpoint(wildcard, at("127.0.0.5", 8080)));
  CHECK(respaldo::check_endpoint(wildcard, at("127.0.0.1", 9000)));
}

TEST_CASE("app networks restrict every connection", "[address_policy]") {
  address_policy policy;
  policy.app_networks = *respaldo::parse_ip_networks("172.18.0.0/16,fd00::/8");
  CHECK(respaldo::check_endpoint(policy, at("172.18.0.4", 8000)));
  CHECK(respaldo::check_endpoint(policy, at("fd00::4", 8000)));
  auto out = respaldo::check_endpoint(policy, at("10.0.0.1", 8000));
  REQUIRE_FALSE(out);
  CHECK(out.error().code == errc::app_contract_violation);
  CHECK_THAT(out.error().message, Catch::Contains("outside --app-networks"));
  CHECK_THAT(out.error().message, Catch::Contains("10.0.0.1"));
  // The never-list holds inside the networks too.
  address_policy wide;
  wide.app_networks = *respaldo::parse_ip_networks("0.0.0.0/0");
  CHECK_FALSE(respaldo::check_endpoint(wide, at("169.254.169.254", 80)));
  CHECK_FALSE(respaldo::check_app_address(policy, ip::make_address("127.0.0.1")));
  CHECK(respaldo::check_app_address(policy, ip::make_address("172.18.9.9")));
}
