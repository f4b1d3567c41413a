// Which addresses respaldo's outgoing connections to apps may reach: never link-local or
// unspecified addresses (cloud metadata services live at 169.254.169.254) nor respaldo's own API,
// and, when the operator names app networks, only addresses inside them. Sans-io: the HTTP client
// applies it to every resolved address at connect time, so DNS rebinding cannot escape it.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string_view>
#include <vector>

#include "respaldo/core/error.hpp"

namespace respaldo {

// An address block such as 10.0.0.0/8 or fd00::/8 (a bare address is a block of one).
struct ip_network {
  boost::asio::ip::address base;
  unsigned prefix = 0;
};

// errc::invalid_argument naming what is wrong, e.g. a prefix longer than the address.
outcome<ip_network> parse_ip_network(std::string_view text);
// A comma-separated list ("10.0.0.0/8,fd00::/8"); spaces around items are ignored.
outcome<std::vector<ip_network>> parse_ip_networks(std::string_view list);

// IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
bool contains(const ip_network& net, const boost::asio::ip::address& a);

struct address_policy {
  std::vector<ip_network> app_networks;             // empty: any address outside the never-list
  std::vector<boost::asio::ip::tcp::endpoint> own;  // respaldo's API (an unspecified address
                                                    // there stands for loopback)
};

// errc::app_contract_violation saying why `to` may not be connected to.
outcome<void> check_endpoint(const address_policy& policy,
                             const boost::asio::ip::tcp::endpoint& to);
// The same for a registered URL's address, before any connection (app_networks only).
outcome<void> check_app_address(const address_policy& policy, const boost::asio::ip::address& a);

}  // namespace respaldo
