// Reading query parameters and bodies, and the refusals every resource shares.
#include <boost/json/parse.hpp>
#include <charconv>

#include "context.hpp"
#include "respaldo/core/text.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo::api_detail {
namespace {

namespace json = boost::json;

// The media type without parameters, lower-cased: "application/json; charset=utf-8" ->
// "application/json".
std::string media_type(const http_request& req) {
  auto ct = req.header("Content-Type");
  if (!ct) return "";
  auto v = *ct;
  auto semi = v.find(';');
  v = v.substr(0, semi);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return lower(v);
}

std::optional<std::int64_t> to_int64(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

http_response bad_cursor() {
  return problem(400, "invalid_parameter",
                 "cursor is not one this server returned; pass next_cursor unchanged",
                 {{"field", "cursor"}});
}

}  // namespace

or_response<json::value> read_json_body(const http_request& req,
                                        std::initializer_list<std::string_view> types) {
  auto mt = media_type(req);
  bool ok = false;
  for (auto t : types) ok = ok || mt == t;
  if (!ok)
    return problem(415, "unsupported_media_type",
                   "send the body as Content-Type: application/json" +
                       std::string(mt.empty() ? "" : " (got " + mt + ")"));
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 32;
  auto body = json::parse(req.body, ec, {}, opts);
  if (ec)
    return problem(400, "malformed_json", "the body is not valid UTF-8 JSON: " + ec.message());
  return body;
}

or_response<std::size_t> read_limit(const http_request& req) {
  auto l = req.query_param("limit");
  // in_place_value: a number could also build an http_response (C++20 aggregate init).
  if (!l) return or_response<std::size_t>(boost::system::in_place_value, 50);
  auto v = to_int64(*l);
  if (!v || *v < 1 || *v > 500)
    return problem(400, "invalid_parameter", "limit must be an integer from 1 to 500",
                   {{"field", "limit"}});
  return or_response<std::size_t>(boost::system::in_place_value, static_cast<std::size_t>(*v));
}

or_response<std::optional<std::int64_t>> read_seq_cursor(const http_request& req) {
  auto c = req.query_param("cursor");
  if (!c || c->empty()) return std::optional<std::int64_t>{};
  auto raw = base64url_decode(*c);
  auto v = raw ? to_int64(*raw) : std::nullopt;
  if (!v) return bad_cursor();
  return v;
}

or_response<std::string> read_name_cursor(const http_request& req) {
  auto c = req.query_param("cursor");
  if (!c || c->empty()) return std::string();
  auto raw = base64url_decode(*c);
  if (!raw) return bad_cursor();
  return std::move(*raw);
}

std::string encode_cursor(std::string_view v) {
  return base64url_encode(v);
}

http_response store_failure() {
  return problem(
      503, "store_unavailable",
      "the database could not complete the request; retry later and check the server log");
}

http_response app_not_found(const std::string& id) {
  return problem(404, "app_not_found", "no app named \"" + id + "\" is registered");
}

http_response job_not_found(const std::string& id) {
  return problem(404, "job_not_found", "no job with id \"" + id + "\"");
}

http_response backup_not_found(const std::string& id) {
  return problem(404, "backup_not_found", "no backup with id \"" + id + "\"");
}

http_response validation_problem(const failure& e) {
  json::object extra;
  if (!e.subject.empty()) extra["field"] = e.subject;
  return problem(422, std::string(code_name(e.code)), e.message, std::move(extra));
}

http_response accepted_job(const job_record& job) {
  json::object body;
  body["job_id"] = job.id;
  body["status_url"] = "/api/jobs/" + job.id;
  auto res = json_response(202, body);
  res.set_header("Location", "/api/jobs/" + job.id);
  return res;
}

}  // namespace respaldo::api_detail
