#include "respaldo/http/message.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>

namespace respaldo {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<std::string_view> find_header(const std::vector<header_field>& fields,
                                            std::string_view name) {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return std::string_view(f.value);
  return std::nullopt;
}

std::optional<std::string_view> http_request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

http_response& http_response::set_header(std::string name, std::string value) {
  for (auto& f : headers) {
    if (iequals(f.name, name)) {
      f.value = std::move(value);
      return *this;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
  return *this;
}

http_response json_response(unsigned status, const boost::json::value& body) {
  http_response res;
  res.status = status;
  res.set_header("Content-Type", "application/json");
  res.body = boost::json::serialize(body);
  return res;
}

http_response empty_response(unsigned status) {
  http_response res;
  res.status = status;
  return res;
}

}  // namespace respaldo
