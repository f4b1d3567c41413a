#include "respaldo/core/json_values.hpp"

namespace respaldo {

boost::json::value time_or_null(const std::optional<sys_seconds>& t) {
  if (!t) return nullptr;
  return boost::json::value(format_rfc3339_utc(*t));
}

boost::json::value text_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return boost::json::value(s);
}

}  // namespace respaldo
