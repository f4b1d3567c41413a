#include "respaldo/http/problem.hpp"

#include <boost/json/serialize.hpp>

namespace respaldo {

std::string_view status_title(unsigned status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

http_response problem(unsigned status, std::string_view code, std::string detail,
                      boost::json::object extra) {
  boost::json::object body;
  body["type"] = "urn:respaldo:problem:" + std::string(code);
  body["title"] = status_title(status);
  body["status"] = status;
  body["detail"] = std::move(detail);
  body["code"] = code;
  for (auto& [k, v] : extra) body[k] = std::move(v);
  http_response res;
  res.status = status;
  res.set_header("Content-Type", "application/problem+json");
  res.body = boost::json::serialize(body);
  return res;
}

}  // namespace respaldo
