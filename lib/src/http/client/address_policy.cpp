#include "respaldo/http/client/address_policy.hpp"

#include <array>
#include <charconv>
#include <string>

namespace respaldo {
namespace {

namespace ip = boost::asio::ip;

failure invalid(std::string message) {
  return failure{make_error_code(errc::invalid_argument), std::move(message)};
}

failure refused(const ip::address& a, const std::string& why) {
  return failure{make_error_code(errc::app_contract_violation),
                 "refusing to connect to " + a.to_string() + ": " + why};
}

ip::address unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool is_link_local(const ip::address& a) {
  if (a.is_v4()) return (a.to_v4().to_uint() >> 16) == ((169u << 8) | 254u);
  return a.to_v6().is_link_local();
}

bool is_own(const address_policy& policy, const ip::tcp::endpoint& to) {
  const ip::address a = unmapped(to.address());
  for (const auto& own : policy.own) {
    if (own.port() != to.port()) continue;
    const ip::address o = unmapped(own.address());
    if (o.is_unspecified() ? a.is_loopback() || a.is_unspecified() : o == a) return true;
  }
  return false;
}

bool inside_app_networks(const address_policy& policy, const ip::address& a) {
  if (policy.app_networks.empty()) return true;
  for (const auto& net : policy.app_networks)
    if (contains(net, a)) return true;
  return false;
}

}  // namespace

outcome<ip_network> parse_ip_network(std::string_view text) {
  text = trimmed(text);
  const auto slash = text.find('/');
  boost::system::error_code ec;
  const auto base = ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec)
    return invalid("\"" + std::string(text) + "\" is not an address block such as 10.0.0.0/8");
  const ip::address addr = unmapped(base);
  const unsigned bits = addr.is_v4() ? 32 : 128;
  unsigned prefix = bits;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    auto [end, pec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (pec != std::errc{} || end != p.data() + p.size() || p.empty() || prefix > bits)
      return invalid("\"" + std::string(text) + "\": the prefix length must be 0 to " +
                     std::to_string(bits));
  }
  return ip_network{addr, prefix};
}

outcome<std::vector<ip_network>> parse_ip_networks(std::string_view list) {
  std::vector<ip_network> out;
  while (!trimmed(list).empty()) {
    const auto comma = list.find(',');
    auto net = parse_ip_network(list.substr(0, comma));
    if (!net) return net.error();
    out.push_back(*net);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

bool contains(const ip_network& net, const ip::address& a) {
  const ip::address x = unmapped(a);
  if (x.is_v4() != net.base.is_v4()) return false;
  std::array<unsigned char, 16> want{}, have{};
  std::size_t size = 4;
  if (x.is_v4()) {
    const auto w = net.base.to_v4().to_bytes(), h = x.to_v4().to_bytes();
    std::copy(w.begin(), w.end(), want.begin());
    std::copy(h.begin(), h.end(), have.begin());
  } else {
    want = net.base.to_v6().to_bytes();
    have = x.to_v6().to_bytes();
    size = 16;
  }
  unsigned left = net.prefix;
  for (std::size_t i = 0; i < size && left > 0; ++i) {
    const unsigned take = left >= 8 ? 8 : left;
    const auto mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((want[i] & mask) != (have[i] & mask)) return false;
    left -= take;
  }
  return true;
}

outcome<void> check_app_address(const address_policy& policy, const ip::address& a) {
  const ip::address x = unmapped(a);
  if (x.is_unspecified()) return refused(x, "an unspecified address");
  if (is_link_local(x)) return refused(x, "a link-local address (169.254.0.0/16, fe80::/10)");
  if (!inside_app_networks(policy, x)) return refused(x, "outside --app-networks");
  return {};
}

outcome<void> check_endpoint(const address_policy& policy, const ip::tcp::endpoint& to) {
  if (auto ok = check_app_address(policy, to.address()); !ok) return ok;
  if (is_own(policy, to)) return refused(unmapped(to.address()), "respaldo's own API address");
  return {};
}

}  // namespace respaldo
