// RFC 9457 problem details: every error response of the API is built here, so `type`, `title`,
// `status`, `detail` and the stable machine `code` are always present and consistent.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "respaldo/http/message.hpp"

namespace respaldo {

// `code` is the stable identifier clients switch on; `type` is derived from it
// ("urn:respaldo:problem:<code>"). `extra` members (e.g. "field", "job_id") are merged in.
http_response problem(unsigned status, std::string_view code, std::string detail,
                      boost::json::object extra = {});

// The reason phrase used as `title` for a status code.
std::string_view status_title(unsigned status);

}  // namespace respaldo
