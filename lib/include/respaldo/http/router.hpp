// Sans-io request routing: a table of (method, path pattern) -> handler. Patterns are literal
// segments and `{name}` captures, e.g. "/api/apps/{id}/backups". Unknown paths and known paths
// with the wrong method are told apart (404 vs 405 + Allow).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/http/message.hpp"

namespace respaldo {

using route_handler = std::function<boost::asio::awaitable<http_response>(http_request&)>;

struct route_match {
  enum class outcome { found, not_found, method_not_allowed };
  outcome result = outcome::not_found;
  const route_handler* handler = nullptr;
  std::map<std::string, std::string> params;
  std::string allow;    // for method_not_allowed: "GET, PATCH"
  std::string pattern;  // the route's pattern (found) or the first one of the path (405)
};

class router {
 public:
  struct route {
    std::string method;
    std::string pattern;
  };

  // Throws std::logic_error on a malformed pattern or a duplicate (method, pattern): a programming
  // error.
  void add(std::string method, std::string pattern, route_handler handler);
  route_match match(std::string_view method, std::string_view path) const;
  std::vector<route> routes() const;

 private:
  struct entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{id}" marks a capture
    route_handler handler;
  };
  std::vector<entry> entries_;
};

}  // namespace respaldo
