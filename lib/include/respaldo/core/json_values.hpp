// The JSON spellings of optional values shared by the API's views and the notification
// documents: an absent time or an empty text is null.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "respaldo/core/time_format.hpp"

namespace respaldo {

// RFC 3339 in UTC, or null.
boost::json::value time_or_null(const std::optional<sys_seconds>& t);
// The text, or null when it is empty.
boost::json::value text_or_null(const std::string& s);

}  // namespace respaldo
