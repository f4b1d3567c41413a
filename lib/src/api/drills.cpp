// POST /api/backups/{id}/drills: `respaldo drill` reports a restore drill of a backup; the catalog
// keeps it, GET /api/backups/{id} lists the newest and the app shows its last one.
#include "context.hpp"
#include "respaldo/core/clock.hpp"
#include "respaldo/core/ids.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/store/store.hpp"
#include "views.hpp"

namespace respaldo::api_detail {
namespace {

namespace json = boost::json;

failure field_error(const char* field, std::string message) {
  return failure{errc::validation_failed, std::move(message), field};
}

outcome<std::uint64_t> count_field(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return std::uint64_t{0};
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return field_error(key, std::string(key) + " must be a whole number, 0 or more");
}

// The report's fields; unknown ones are refused, so a typo does not pass unnoticed.
outcome<drill_record> read_drill(const json::value& body) {
  if (!body.is_object()) return field_error("", "the body must be a JSON object");
  const auto& o = body.as_object();
  for (const auto& kv : o) {
    const auto k = kv.key();
    if (k != "target" && k != "passed" && k != "duration_seconds" && k != "tables" && k != "rows" &&
        k != "entries" && k != "error")
      return failure{errc::validation_failed, "unknown field \"" + std::string(k) + "\"",
                     std::string(k)};
  }
  drill_record d;
  auto* target = o.if_contains("target");
  auto parsed = target && target->is_string()
                    ? parse_drill_target(std::string_view(target->as_string()))
                    : std::nullopt;
  if (!parsed) return field_error("target", "target must be postgres, mariadb or directory");
  d.target = *parsed;
  auto* passed = o.if_contains("passed");
  if (!passed || !passed->is_bool()) return field_error("passed", "passed must be true or false");
  d.passed = passed->as_bool();
  if (auto* secs = o.if_contains("duration_seconds")) {
    if (!secs->is_number() || secs->to_number<double>() < 0 || secs->to_number<double>() > 1e9)
      return field_error("duration_seconds",
                         "duration_seconds must be a number of seconds, 0 or more");
    d.duration_ms = static_cast<std::int64_t>(secs->to_number<double>() * 1000.0);
  }
  for (auto [key, out] : {std::pair{"tables", &d.tables}, std::pair{"rows", &d.rows},
                          std::pair{"entries", &d.entries}}) {
    auto n = count_field(o, key);
    if (!n) return n.error();
    *out = *n;
  }
  if (auto* e = o.if_contains("error"); e && !e->is_null()) {
    if (!e->is_string() || e->as_string().size() > 2000)
      return field_error("error", "error must be a string of at most 2000 bytes, or null");
    d.error = std::string(e->as_string());
  }
  if (!d.passed && d.error.empty())
    return field_error("error", "a failed drill needs its error (what failed)");
  return d;
}

}  // namespace

json::object drill_json(const drill_record& d) {
  return json::object{{"id", d.id},
                      {"backup_id", d.backup_id},
                      {"app", d.app},
                      {"target", to_string(d.target)},
                      {"passed", d.passed},
                      {"reported_at", format_rfc3339_utc(d.reported_at)},
                      {"duration_seconds", static_cast<double>(d.duration_ms) / 1000.0},
                      {"tables", d.tables},
                      {"rows", d.rows},
                      {"entries", d.entries},
                      {"error", d.error.empty() ? json::value(nullptr) : json::value(d.error)}};
}

handler_result report_drill(api_context& ctx, http_request& req) {
  const auto& id = req.param("id");
  auto body = read_json_body(req, {"application/json"});
  if (!body) co_return body.error();
  auto b = ctx.svc.db.get_backup(id);
  if (!b) co_return store_failure();
  if (!*b) co_return backup_not_found(id);
  auto d = read_drill(*body);
  if (!d) co_return validation_problem(d.error());
  d->id = "d-" + random_hex_id(8);
  d->backup_id = id;
  d->app = (*b)->app;
  d->reported_at = ctx.svc.clock.now();
  if (auto saved = ctx.svc.db.insert_drill(*d); !saved) co_return store_failure();
  ctx.svc.log.info("drill reported", {{"app", d->app},
                                      {"backup", id},
                                      {"drill", d->id},
                                      {"passed", d->passed ? "true" : "false"},
                                      {"request_id", req.request_id}});
  auto res = json_response(201, drill_json(*d));
  res.set_header("Location", "/api/backups/" + id);
  co_return res;
}

}  // namespace respaldo::api_detail
