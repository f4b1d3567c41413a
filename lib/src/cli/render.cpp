// How answers are shown: fields and tables for people, the server's JSON for scripts, and one
// error line per failure.
#include "respaldo/cli/render.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <iterator>
#include <ostream>

#include "respaldo/cli/cli_client.hpp"

namespace respaldo::cli {

namespace json = boost::json;

std::optional<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

int report_failure(const client_settings& s, const api_reply& r, std::ostream& err) {
  if (!r.reached) {
    err << "error: cannot reach the respaldo server at " << s.display << ": " << r.failure << "\n";
    return client_exit_failed;
  }
  auto problem = parse_object(r.body);
  const json::value* detail = problem ? problem->if_contains("detail") : nullptr;
  const json::value* code = problem ? problem->if_contains("code") : nullptr;
  if (detail && detail->is_string() && code && code->is_string()) {
    err << "error: " << detail->as_string().c_str() << " (" << code->as_string().c_str() << ")\n";
  } else {
    err << "error: HTTP " << r.status << (r.reason.empty() ? "" : " ") << r.reason << " from "
        << s.display << " (is it a respaldo server?)\n";
  }
  if (r.status == 401)
    err << "hint: the server refused the admin token; check --token-file or "
           "RESPALDO_ADMIN_TOKEN\n";
  return client_exit_failed;
}

std::optional<json::object> expect_object(const client_settings& s, const api_reply& r,
                                          std::ostream& err) {
  auto o = parse_object(r.body);
  if (!o)
    err << "error: the answer of " << s.display << " is not the JSON object expected (HTTP "
        << r.status << ")\n";
  return o;
}

taken_answer take_answer(const client_settings& s, const api_reply& r, std::ostream& out,
                         std::ostream& err) {
  taken_answer a;
  if (!success(r)) {
    a.exit = report_failure(s, r, err);
    return a;
  }
  if (s.json) {
    print_raw(out, r.body);
    a.exit = client_exit_ok;
    return a;
  }
  a.object = expect_object(s, r, err);
  a.exit = a.object ? client_exit_ok : client_exit_failed;
  return a;
}

bool success(const api_reply& r) {
  return r.reached && r.status >= 200 && r.status < 300;
}

std::string text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "true" : "false";
  return json::serialize(*v);
}

std::optional<std::uint64_t> number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return std::nullopt;
}

const json::object* object_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::string human_bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  std::size_t u = 0;
  v /= 1024;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string progress(const json::object& job) {
  const auto done = number(job, "bytes_done").value_or(0);
  const auto total = number(job, "bytes_total");
  if (!total) return done ? human_bytes(done) : "-";
  std::string s = human_bytes(done) + " of " + human_bytes(*total);
  if (*total > 0) s += " (" + std::to_string(done * 100 / *total) + "%)";
  return s;
}

std::string retention_text(const json::object& app) {
  const json::object* r = object_field(app, "retention");
  if (!r) return "-";
  std::string s;
  for (const auto& [k, v] : *r) {
    if (!s.empty()) s += ' ';
    s += std::string(k) + "=" + json::serialize(v);
  }
  return s;
}

std::string error_text(const json::object& job) {
  const json::object* e = object_field(job, "error");
  if (!e) return "-";
  return text(*e, "message") + " (" + text(*e, "code") + ")";
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& f) {
  std::size_t width = 0;
  for (const auto& [k, v] : f) width = std::max(width, k.size());
  for (const auto& [k, v] : f)
    out << k << ":" << std::string(width - k.size() + 2, ' ') << v << "\n";
}

void print_raw(std::ostream& out, const std::string& body) {
  out << body;
  if (body.empty() || body.back() != '\n') out << "\n";
}

}  // namespace respaldo::cli
