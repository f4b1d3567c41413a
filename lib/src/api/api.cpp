#include "respaldo/api/api.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>

#include "respaldo/api/validation.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/http/problem.hpp"
#include "respaldo/jobs/runner.hpp"
#include "respaldo/plan/catalog.hpp"
#include "respaldo/plan/retention.hpp"
#include "respaldo/storage/storage.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;

json::value time_or_null(const std::optional<sys_seconds>& t) {
  if (!t) return nullptr;
  return json::value(format_rfc3339_utc(*t));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

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

std::string encode_cursor(std::string_view v) {
  return base64url_encode(v);
}
std::optional<std::string> decode_cursor(std::string_view v) {
  return base64url_decode(v);
}

std::optional<std::int64_t> to_int64(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

http_response store_failure() {
  return problem(
      503, "store_unavailable",
      "the database could not complete the request; retry later and check the server log");
}

json::object backup_json(const backup_record& b, bool orphaned) {
  json::object o;
  o["id"] = b.id;
  o["app"] = b.app;
  o["job_id"] = b.job_id;
  o["created_at"] = format_rfc3339_utc(b.created_at);
  o["size"] = b.size;
  o["sha256"] = b.sha256;
  o["md5"] = b.md5.empty() ? json::value(nullptr) : json::value(b.md5);
  o["format"] = b.format;
  o["storage"] = to_string(b.storage);
  o["location"] = b.location;
  o["name"] = b.name;
  o["status"] = to_string(b.status);
  o["orphaned"] = orphaned;
  o["verified_at"] = time_or_null(b.verified_at);
  return o;
}

}  // namespace

struct api::impl {
  explicit impl(api_services s) : svc(std::move(s)) {}
  api_services svc;
  router table;

  using member_handler = asio::awaitable<http_response> (impl::*)(http_request&);
  struct route_entry {
    const char* method;
    const char* pattern;
    member_handler handler;
  };

  static const std::array<route_entry, 17>& route_table();

  // ---- helpers -------------------------------------------------------------------------------

  std::optional<http_response> check_json_body(const http_request& req,
                                               std::initializer_list<std::string_view> types,
                                               json::value& out) {
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
    out = json::parse(req.body, ec, {}, opts);
    if (ec)
      return problem(400, "malformed_json", "the body is not valid UTF-8 JSON: " + ec.message());
    return std::nullopt;
  }

  std::optional<http_response> read_limit(const http_request& req, std::size_t& limit) {
    limit = 50;
    if (auto l = req.query_param("limit")) {
      auto v = to_int64(*l);
      if (!v || *v < 1 || *v > 500)
        return problem(400, "invalid_parameter", "limit must be an integer from 1 to 500",
                       {{"field", "limit"}});
      limit = static_cast<std::size_t>(*v);
    }
    return std::nullopt;
  }

  std::optional<http_response> read_seq_cursor(const http_request& req,
                                               std::optional<std::int64_t>& out) {
    if (auto c = req.query_param("cursor"); c && !c->empty()) {
      auto raw = decode_cursor(*c);
      auto v = raw ? to_int64(*raw) : std::nullopt;
      if (!v)
        return problem(400, "invalid_parameter",
                       "cursor is not one this server returned; pass next_cursor unchanged",
                       {{"field", "cursor"}});
      out = *v;
    }
    return std::nullopt;
  }

  static http_response validation_problem(const field_error& e) {
    json::object extra;
    if (!e.field.empty()) extra["field"] = e.field;
    return problem(422, e.code, e.message, std::move(extra));
  }

  http_response app_not_found(const std::string& id) {
    return problem(404, "app_not_found", "no app named \"" + id + "\" is registered");
  }

  json::object app_json(const app_record& a) {
    json::object o;
    o["id"] = a.name;
    o["name"] = a.name;
    o["url"] = a.url;
    o["token_set"] = svc.tokens.open(a.name, a.sealed_token).has_value();
    o["drive_folder_id"] = a.drive_folder_id;
    o["schedule"] = a.schedule;
    o["timezone"] = a.timezone.empty() ? svc.default_timezone : a.timezone;
    o["verify_schedule"] =
        a.verify_schedule.empty() ? json::value(nullptr) : json::value(a.verify_schedule);
    o["retention"] = to_json(a.retention);
    o["created_at"] = format_rfc3339_utc(a.created_at);
    o["updated_at"] = format_rfc3339_utc(a.updated_at);
    o["next_run_at"] = time_or_null(a.next_run_at);
    o["last_run_at"] = time_or_null(a.last_run_at);
    o["last_success_at"] = time_or_null(a.last_success_at);
    json::object health;
    health["status"] = to_string(a.health.status);
    health["checked_at"] = time_or_null(a.health.checked_at);
    health["detail"] =
        a.health.detail.empty() ? json::value(nullptr) : json::value(a.health.detail);
    health["capabilities"] =
        a.health.capabilities ? json::value(*a.health.capabilities) : json::value(nullptr);
    o["health"] = std::move(health);
    return o;
  }

  // One job as the API shows it; a single job looks its backup up, a listing joins it in.
  json::object job_json(const job_record& j) {
    job_view v{j, std::nullopt, false};
    if (!j.backup_id.empty()) {
      if (auto b = svc.db.get_backup(j.backup_id); b && *b) {
        auto exists = svc.db.app_exists((*b)->app);
        v.backup = std::move(**b);
        v.backup_orphaned = exists && !*exists;
      }
    }
    return job_json(v);
  }

  json::object job_json(const job_view& v) {
    const job_record& j = v.job;
    json::object o;
    o["id"] = j.id;
    o["app"] = j.app;
    o["kind"] = to_string(j.kind);
    o["trigger"] = to_string(j.trigger);
    o["state"] = to_string(j.state);
    o["phase"] =
        j.phase == job_phase::none ? json::value(nullptr) : json::value(to_string(j.phase));
    o["bytes_done"] = j.bytes_done;
    o["bytes_total"] = j.bytes_total ? json::value(*j.bytes_total) : json::value(nullptr);
    o["attempt"] = j.attempt;
    o["max_attempts"] = j.max_attempts;
    o["created_at"] = format_rfc3339_utc(j.created_at);
    o["started_at"] = time_or_null(j.started_at);
    o["finished_at"] = time_or_null(j.finished_at);
    o["next_attempt_at"] = time_or_null(j.next_attempt_at);
    if (!j.error_code.empty()) {
      json::object err;
      err["code"] = j.error_code;
      err["message"] = j.error_message;
      o["error"] = std::move(err);
    } else {
      o["error"] = nullptr;
    }
    o["backup"] = v.backup ? json::value(backup_json(*v.backup, v.backup_orphaned)) : nullptr;
    json::array warnings;
    for (const auto& w : j.warnings) warnings.emplace_back(w);
    o["warnings"] = std::move(warnings);
    return o;
  }

  http_response accepted_job(const job_record& job) {
    json::object body;
    body["job_id"] = job.id;
    body["status_url"] = "/api/jobs/" + job.id;
    auto res = json_response(202, body);
    res.set_header("Location", "/api/jobs/" + job.id);
    return res;
  }

  void app_changed(const std::string& name) {
    if (svc.app_changed) svc.app_changed(name);
  }

  // ---- health --------------------------------------------------------------------------------

  asio::awaitable<http_response> healthz(http_request&) {
    co_return json_response(200, json::object{{"status", "ok"}});
  }

  asio::awaitable<http_response> readyz(http_request&) {
    if (!svc.db.healthy())
      co_return problem(503, "store_unavailable", "the database is not usable; see the server log");
    co_return json_response(200, json::object{{"status", "ready"}});
  }

  asio::awaitable<http_response> metrics_text(http_request&) {
    http_response res;
    res.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = svc.stats.render();
    co_return res;
  }

  // ---- apps ----------------------------------------------------------------------------------

  asio::awaitable<http_response> create_app(http_request& req) {
    json::value body;
    if (auto err = check_json_body(req, {"application/json"}, body)) co_return *err;
    auto app = validate_registration(body);
    if (!app) co_return validation_problem(app.error());
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    app->created_at = now;
    app->updated_at = now;
    app->sealed_token = svc.tokens.seal(app->name, app->token);
    if (auto done = svc.db.insert_app(*app); !done) {
      if (done.error().code == errc::conflict)
        co_return problem(409, "app_exists",
                          "an app named \"" + app->name +
                              "\" is already registered; PATCH /api/apps/" + app->name +
                              " to change it",
                          {{"field", "name"}});
      co_return store_failure();
    }
    svc.log.info("app registered", {{"app", app->name}, {"request_id", req.request_id}});
    app_changed(app->name);
    auto res = json_response(201, json::object{{"id", app->name}, {"status", "registered"}});
    res.set_header("Location", "/api/apps/" + app->name);
    co_return res;
  }

  asio::awaitable<http_response> list_apps(http_request& req) {
    std::size_t limit = 0;
    if (auto err = read_limit(req, limit)) co_return *err;
    std::string after;
    if (auto c = req.query_param("cursor"); c && !c->empty()) {
      auto raw = decode_cursor(*c);
      if (!raw)
        co_return problem(400, "invalid_parameter",
                          "cursor is not one this server returned; pass next_cursor unchanged",
                          {{"field", "cursor"}});
      after = *raw;
    }
    auto apps = svc.db.list_apps(limit + 1, after);
    if (!apps) co_return store_failure();
    json::array items;
    json::value next = nullptr;
    for (std::size_t i = 0; i < apps->size(); ++i) {
      if (i == limit) {
        next = json::value(encode_cursor((*apps)[i - 1].name));
        break;
      }
      items.push_back(app_json((*apps)[i]));
    }
    co_return json_response(200, json::object{{"items", std::move(items)}, {"next_cursor", next}});
  }

  asio::awaitable<http_response> get_app(http_request& req) {
    const auto& id = req.param("id");
    auto app = svc.db.get_app(id);
    if (!app) co_return store_failure();
    if (!*app) co_return app_not_found(id);
    co_return json_response(200, app_json(**app));
  }

  asio::awaitable<http_response> update_app(http_request& req) {
    const auto& id = req.param("id");
    json::value body;
    if (auto err = check_json_body(req, {"application/json", "application/merge-patch+json"}, body))
      co_return *err;
    auto app = svc.db.get_app(id);
    if (!app) co_return store_failure();
    if (!*app) co_return app_not_found(id);
    app_record updated = **app;
    if (auto e = apply_app_patch(updated, body)) co_return validation_problem(*e);
    updated.updated_at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    if (updated.schedule != (*app)->schedule || updated.timezone != (*app)->timezone)
      updated.next_run_at.reset();  // recomputed by the scheduler
    if (updated.verify_schedule != (*app)->verify_schedule) updated.next_verify_at.reset();
    if (!updated.token.empty()) updated.sealed_token = svc.tokens.seal(id, updated.token);
    if (auto done = svc.db.update_app(updated); !done) {
      if (done.error().code == errc::not_found) co_return app_not_found(id);
      co_return store_failure();
    }
    svc.log.info("app updated", {{"app", id}, {"request_id", req.request_id}});
    app_changed(id);
    auto fresh = svc.db.get_app(id);
    co_return json_response(200, app_json(fresh && *fresh ? **fresh : updated));
  }

  asio::awaitable<http_response> delete_app(http_request& req) {
    const auto& id = req.param("id");
    if (auto done = svc.db.delete_app(id); !done) {
      if (done.error().code == errc::not_found) co_return app_not_found(id);
      co_return store_failure();
    }
    // Jobs still queued for it can no longer run.
    if (svc.jobs) {
      job_filter f;
      f.app = id;
      f.limit = 1000;
      if (auto jobs = svc.db.list_jobs(f))
        for (auto& j : *jobs)
          if (!is_final(j.state)) (void)svc.jobs->cancel(j.id);
    }
    svc.log.info("app deleted", {{"app", id}, {"request_id", req.request_id}});
    app_changed(id);
    co_return empty_response(204);
  }

  // ---- jobs ----------------------------------------------------------------------------------

  asio::awaitable<http_response> start_job(http_request& req, std::string_view kind) {
    const auto& id = req.param("id");
    if (!svc.jobs) co_return problem(503, "jobs_unavailable", "the job runner is not running");
    auto app = svc.db.get_app(id);
    if (!app) co_return store_failure();
    if (!*app) co_return app_not_found(id);
    auto active = svc.db.active_job(id, parse_job_kind(kind).value_or(job_kind::backup));
    if (!active) co_return store_failure();
    if (*active) {
      const auto& j = **active;
      co_return problem(409, kind == "backup" ? "backup_in_progress" : "verify_in_progress",
                        "a " + std::string(kind) + " of \"" + id + "\" is already " +
                            std::string(to_string(j.state)) + " as job " + j.id +
                            "; follow /api/jobs/" + j.id,
                        {{"job_id", j.id}, {"status_url", "/api/jobs/" + j.id}});
    }
    if (kind == "verify") {
      auto all = all_backups(svc.db, id);
      if (!all) co_return store_failure();
      const bool any = std::any_of(all->begin(), all->end(), [](const backup_record& b) {
        return b.status == backup_status::available || b.status == backup_status::missing;
      });
      if (!any) co_return problem(409, "no_backup", "\"" + id + "\" has no backup to verify yet");
    }
    auto job = svc.jobs->enqueue(**app, kind == "verify" ? job_kind::verify : job_kind::backup,
                                 job_trigger::manual);
    if (!job) co_return store_failure();
    svc.log.info("job queued",
                 {{"app", id}, {"job", job->id}, {"kind", kind}, {"request_id", req.request_id}});
    co_return accepted_job(*job);
  }

  asio::awaitable<http_response> start_backup(http_request& req) {
    if (!req.body.empty()) {
      // The endpoint takes no options yet; refuse bodies rather than silently ignore them.
      json::value body;
      if (auto err = check_json_body(req, {"application/json"}, body)) co_return *err;
      if (!body.is_object() || !body.as_object().empty())
        co_return problem(422, "validation_failed", "this endpoint takes no body (or {})");
    }
    co_return co_await start_job(req, "backup");
  }

  asio::awaitable<http_response> start_verify(http_request& req) {
    co_return co_await start_job(req, "verify");
  }

  asio::awaitable<http_response> list_jobs(http_request& req) {
    job_filter f;
    if (auto err = read_limit(req, f.limit)) co_return *err;
    if (auto err = read_seq_cursor(req, f.before_seq)) co_return *err;
    if (auto a = req.query_param("app")) f.app = std::string(*a);
    if (auto s = req.query_param("state"); s && !s->empty()) {
      f.state = parse_job_state(*s);
      if (!f.state)
        co_return problem(400, "invalid_parameter",
                          "state must be one of queued, running, succeeded, failed, cancelled",
                          {{"field", "state"}});
    }
    if (auto k = req.query_param("kind"); k && !k->empty()) {
      f.kind = parse_job_kind(*k);
      if (!f.kind)
        co_return problem(400, "invalid_parameter", "kind must be backup or verify",
                          {{"field", "kind"}});
    }
    const auto limit = f.limit;
    f.limit = limit + 1;
    auto jobs = svc.db.list_job_views(f);
    if (!jobs) co_return store_failure();
    json::array items;
    json::value next = nullptr;
    for (std::size_t i = 0; i < jobs->size(); ++i) {
      if (i == limit) {
        next = json::value(encode_cursor(std::to_string((*jobs)[i - 1].job.seq)));
        break;
      }
      items.push_back(job_json((*jobs)[i]));
    }
    co_return json_response(200, json::object{{"items", std::move(items)}, {"next_cursor", next}});
  }

  asio::awaitable<http_response> get_job(http_request& req) {
    const auto& id = req.param("id");
    auto job = svc.db.get_job(id);
    if (!job) co_return store_failure();
    if (!*job) co_return problem(404, "job_not_found", "no job with id \"" + id + "\"");
    co_return json_response(200, job_json(**job));
  }

  asio::awaitable<http_response> cancel_job(http_request& req) {
    const auto& id = req.param("id");
    if (!svc.jobs) co_return problem(503, "jobs_unavailable", "the job runner is not running");
    auto job = svc.jobs->cancel(id);
    if (!job) {
      if (job.error().code == errc::not_found)
        co_return problem(404, "job_not_found", "no job with id \"" + id + "\"");
      if (job.error().code == errc::conflict)
        co_return problem(409, "job_finished", job.error().message, {{"job_id", id}});
      co_return store_failure();
    }
    co_return json_response(202, job_json(*job));
  }

  // ---- backups -------------------------------------------------------------------------------

  asio::awaitable<http_response> list_app_backups(http_request& req) {
    const auto& id = req.param("id");
    std::size_t limit = 0;
    std::optional<std::int64_t> before;
    if (auto err = read_limit(req, limit)) co_return *err;
    if (auto err = read_seq_cursor(req, before)) co_return *err;
    auto exists = svc.db.app_exists(id);
    if (!exists) co_return store_failure();
    auto backups = svc.db.list_backups(id, limit + 1, before);
    if (!backups) co_return store_failure();
    // A deleted app's backups stay listed (as orphaned) as long as the catalog has them.
    if (!*exists && backups->empty()) co_return app_not_found(id);
    json::array items;
    json::value next = nullptr;
    for (std::size_t i = 0; i < backups->size(); ++i) {
      if (i == limit) {
        next = json::value(encode_cursor(std::to_string((*backups)[i - 1].seq)));
        break;
      }
      items.push_back(backup_json((*backups)[i], !*exists));
    }
    co_return json_response(200, json::object{{"items", std::move(items)}, {"next_cursor", next}});
  }

  asio::awaitable<http_response> retention_plan(http_request& req) {
    const auto& id = req.param("id");
    auto app = svc.db.get_app(id);
    if (!app) co_return store_failure();
    if (!*app) co_return app_not_found(id);
    auto all = all_backups(svc.db, id);
    if (!all) co_return store_failure();
    const std::string zone = (*app)->timezone.empty() ? svc.default_timezone : (*app)->timezone;
    auto decisions = plan_catalog_retention(*all, (*app)->retention, find_time_zone(zone));
    json::array out;
    for (const auto& d : decisions) {
      json::array reasons;
      for (const auto& r : d.reasons) reasons.emplace_back(r);
      out.push_back(json::object{{"backup_id", d.id},
                                 {"created_at", format_rfc3339_utc(d.created_at)},
                                 {"keep", d.keep},
                                 {"reasons", std::move(reasons)}});
    }
    co_return json_response(200, json::object{{"app", id},
                                              {"policy", to_json((*app)->retention)},
                                              {"timezone", zone},
                                              {"decisions", std::move(out)}});
  }

  asio::awaitable<http_response> get_backup(http_request& req) {
    const auto& id = req.param("id");
    auto b = svc.db.get_backup(id);
    if (!b) co_return store_failure();
    if (!*b) co_return problem(404, "backup_not_found", "no backup with id \"" + id + "\"");
    auto exists = svc.db.app_exists((*b)->app);
    co_return json_response(200, backup_json(**b, exists && !*exists));
  }

  asio::awaitable<http_response> backup_content(http_request& req) {
    const auto& id = req.param("id");
    auto found = svc.db.get_backup(id);
    if (!found) co_return store_failure();
    if (!*found) co_return problem(404, "backup_not_found", "no backup with id \"" + id + "\"");
    backup_record b = **found;
    if (!svc.backups || to_string(b.storage) != svc.backups->kind())
      co_return problem(409, "storage_not_configured",
                        "backup " + id + " is kept in " + std::string(to_string(b.storage)) +
                            " storage, which this server is not configured for");
    auto download = co_await svc.backups->open(b.location);
    if (!download) {
      if (download.error().code == errc::not_found)
        co_return problem(404, "backup_missing",
                          "backup " + id + " is in the catalog but missing from storage",
                          {{"backup_id", id}});
      co_return problem(
          502, "storage_error",
          "could not read backup " + id + " from storage: " + download.error().message);
    }
    http_response res;
    res.set_header("Content-Type", "application/octet-stream");
    res.set_header("X-Checksum-SHA256", b.sha256);
    res.set_header("X-Size", std::to_string(b.size));
    res.set_header("X-Format", b.format);
    res.set_header("Content-Disposition", "attachment; filename=\"" + b.name + "\"");
    res.stream_length = b.size;
    auto src = std::shared_ptr<storage_download>(std::move(*download));
    logger* log = &svc.log;
    res.stream = [src, b, log](body_sink& sink) -> asio::awaitable<boost::system::error_code> {
      // Re-hash while streaming: a stored file that changed since it was verified is cut off
      // before its end, so the client never receives it as complete.
      std::vector<char> buf(1024 * 1024);
      sha256 hash;
      std::uint64_t sent = 0;
      while (true) {
        auto n = co_await src->read_some(asio::buffer(buf));
        if (!n) co_return n.error().code;
        if (*n == 0) break;
        std::size_t take = *n;
        hash.update(buf.data(), take);
        sent += take;
        if (sent > b.size) {
          log->error("stored backup is larger than its catalog entry", {{"backup", b.id}});
          co_return make_error_code(errc::size_mismatch);
        }
        // Hold the final bytes back until the checksum is known to match.
        if (sent == b.size) {
          if (hash.finish_hex() != b.sha256) {
            log->error("stored backup fails its checksum", {{"backup", b.id}});
            co_return make_error_code(errc::checksum_mismatch);
          }
        }
        if (auto ec = co_await sink.write(asio::buffer(buf.data(), take))) co_return ec;
      }
      if (sent != b.size) co_return make_error_code(errc::size_mismatch);
      co_return boost::system::error_code{};
    };
    co_return res;
  }

  // ---- dispatch ------------------------------------------------------------------------------

  bool authorized(const http_request& req, bool& token_presented) {
    token_presented = false;
    auto auth = req.header("Authorization");
    if (!auth) return false;
    constexpr std::string_view scheme = "bearer ";
    if (auth->size() <= scheme.size() || lower(auth->substr(0, scheme.size())) != scheme)
      return false;
    token_presented = true;
    auto token = auth->substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    return !svc.admin_token.empty() && constant_time_equal(token, svc.admin_token);
  }

  // Requests by method, route pattern (not the raw path, which would make a series per app)
  // and status. Methods outside the known set share one label for the same reason.
  void count_request(std::string_view method, const std::string& route, unsigned status) {
    static constexpr std::array<std::string_view, 7> known = {"GET", "POST", "PATCH",  "DELETE",
                                                              "PUT", "HEAD", "OPTIONS"};
    const bool is_known = std::find(known.begin(), known.end(), method) != known.end();
    svc.stats.add("respaldo_http_requests_total", 1,
                  {{"method", is_known ? std::string(method) : std::string("other")},
                   {"route", route},
                   {"status", std::to_string(status)}});
  }

  asio::awaitable<http_response> dispatch(http_request& req) {
    std::string route = "unmatched";
    auto res = co_await route_request(req, route);
    count_request(req.method, route, res.status);
    co_return res;
  }

  asio::awaitable<http_response> route_request(http_request& req, std::string& route) {
    auto m = table.match(req.method, req.path);
    if (!m.pattern.empty()) route = m.pattern;
    // Under /api, authentication comes before routing: without the token a client learns
    // nothing, not even which paths and methods exist (401 before 404 and 405).
    const bool protected_route = req.path.rfind("/api/", 0) == 0 || req.path == "/api";
    if (protected_route) {
      bool presented = false;
      if (!authorized(req, presented)) {
        auto res = problem(401, "unauthorized",
                           presented ? "the bearer token is not valid"
                                     : "send the admin token as Authorization: Bearer <token>");
        res.set_header("WWW-Authenticate",
                       presented ? "Bearer realm=\"respaldo\", error=\"invalid_token\""
                                 : "Bearer realm=\"respaldo\"");
        co_return res;
      }
    }
    if (m.result == route_match::outcome::not_found)
      co_return problem(404, "not_found", "no resource at " + req.path);
    if (m.result == route_match::outcome::method_not_allowed) {
      auto res = problem(405, "method_not_allowed",
                         req.method + " is not supported on " + req.path + "; use " + m.allow);
      res.set_header("Allow", m.allow);
      co_return res;
    }
    req.path_params = std::move(m.params);
    co_return co_await (*m.handler)(req);
  }
};

const std::array<api::impl::route_entry, 17>& api::impl::route_table() {
  static const std::array<route_entry, 17> table = {{
      {"GET", "/healthz", &api::impl::healthz},
      {"GET", "/readyz", &api::impl::readyz},
      {"GET", "/metrics", &api::impl::metrics_text},
      {"POST", "/api/apps", &api::impl::create_app},
      {"GET", "/api/apps", &api::impl::list_apps},
      {"GET", "/api/apps/{id}", &api::impl::get_app},
      {"PATCH", "/api/apps/{id}", &api::impl::update_app},
      {"DELETE", "/api/apps/{id}", &api::impl::delete_app},
      {"POST", "/api/apps/{id}/backups", &api::impl::start_backup},
      {"GET", "/api/apps/{id}/backups", &api::impl::list_app_backups},
      {"GET", "/api/apps/{id}/retention", &api::impl::retention_plan},
      {"POST", "/api/apps/{id}/verify", &api::impl::start_verify},
      {"GET", "/api/jobs", &api::impl::list_jobs},
      {"GET", "/api/jobs/{id}", &api::impl::get_job},
      {"POST", "/api/jobs/{id}/cancel", &api::impl::cancel_job},
      {"GET", "/api/backups/{id}", &api::impl::get_backup},
      {"GET", "/api/backups/{id}/content", &api::impl::backup_content},
  }};
  return table;
}

api::api(api_services services) : impl_(std::make_unique<impl>(std::move(services))) {
  impl_->svc.stats.describe("respaldo_http_requests_total", metrics::kind::counter,
                            "API requests answered, by method, route and status.");
  for (const auto& r : impl::route_table()) {
    auto member = r.handler;
    impl* self = impl_.get();
    impl_->table.add(r.method, r.pattern,
                     [self, member](http_request& req) { return (self->*member)(req); });
  }
}

api::~api() = default;

asio::awaitable<http_response> api::handle(http_request& req) {
  return impl_->dispatch(req);
}

const router& api::routes() const {
  return impl_->table;
}

router api::describe_routes() {
  router r;
  for (const auto& e : api::impl::route_table())
    r.add(e.method, e.pattern,
          [](http_request&) -> asio::awaitable<http_response> { co_return empty_response(501); });
  return r;
}

}  // namespace respaldo
