// The API's routing table: method, path template and handler of every operation. Private to
// lib/src/api/; proto/respaldo.openapi.yaml documents the same table (routes_test checks it).
#pragma once

#include <span>

#include "context.hpp"

namespace respaldo::api_detail {

struct route_entry {
  const char* method;
  const char* pattern;
  handler_result (*handler)(api_context&, http_request&);
};

std::span<const route_entry> route_table();

}  // namespace respaldo::api_detail
