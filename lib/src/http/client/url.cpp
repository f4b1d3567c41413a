// URL parsing and formatting for the client: Boost.URL does the parsing, resolution and
// percent-encoding; this file adds the http(s)-only rules (a host, no credentials, a valid port).
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>

#include "connection_impl.hpp"
#include "respaldo/core/text.hpp"

namespace respaldo {

namespace urls = boost::urls;

namespace {

using url_result = outcome<parsed_url>;

url_result url_error(std::string message) {
  return failure{make_error_code(errc::invalid_argument), std::move(message)};
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

namespace http_detail {

std::string_view default_port(bool tls) {
  return tls ? "443" : "80";
}

std::string host_header(const http_origin& o) {
  std::string h = host_for_url(o.host);
  if (o.port != default_port(o.tls)) h += ":" + o.port;
  return h;
}

}  // namespace http_detail

using http_detail::default_port;
using http_detail::host_header;

url_result parse_http_url(std::string_view text) {
  auto r = urls::parse_uri(text);
  if (!r) return url_error("not an absolute URL (" + r.error().message() + ")");
  const urls::url_view& u = *r;
  bool tls = false;
  if (u.scheme_id() == urls::scheme::https) {
    tls = true;
  } else if (u.scheme_id() != urls::scheme::http) {
    return url_error("unsupported scheme '" + std::string(u.scheme()) +
                     "' (http or https expected)");
  }
  if (!u.has_authority() || u.host_type() == urls::host_type::none || u.encoded_host().empty())
    return url_error("URL has no host");
  if (u.has_userinfo()) return url_error("credentials in the URL are not supported");
  if (u.host_type() == urls::host_type::ipvfuture)
    return url_error("unsupported host address format");

  parsed_url out;
  out.origin.tls = tls;
  std::string host = lower(u.host_address());
  if (u.host_type() == urls::host_type::name) {
    const bool valid = std::all_of(host.begin(), host.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
    if (!valid) return url_error("invalid host name");
  }
  out.origin.host = std::move(host);

  if (u.has_port() && !u.port().empty()) {
    std::string_view p = u.port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535)
      return url_error("invalid port '" + std::string(p) + "'");
    out.origin.port = std::to_string(value);
  } else {
    out.origin.port = std::string(default_port(tls));
  }

  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  return out;
}

url_result resolve_url(const parsed_url& base, std::string_view ref) {
  auto r = urls::parse_uri_reference(ref);
  if (!r) return url_error("invalid URL reference (" + r.error().message() + ")");
  const std::string base_text = to_string(base);
  auto b = urls::parse_uri(base_text);
  if (!b) return url_error("invalid base URL (" + b.error().message() + ")");
  urls::url dest;
  auto resolved = urls::resolve(*b, *r, dest);
  if (!resolved) return url_error("cannot resolve reference (" + resolved.error().message() + ")");
  return parse_http_url(dest.buffer());
}

std::string to_string(const http_origin& origin) {
  std::string s = origin.tls ? "https://" : "http://";
  s += host_header(origin);
  return s;
}

std::string to_string(const parsed_url& url) {
  return to_string(url.origin) + url.target;
}

std::optional<std::string_view> http_client_response_head::header(std::string_view name) const {
  for (const auto& f : headers)
    if (iequals(f.name, name)) return std::string_view(f.value);
  return std::nullopt;
}

}  // namespace respaldo
