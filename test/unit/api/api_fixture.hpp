// An api over a real SQLite store in a temporary directory (or the in-memory fake store, for
// tests that count store calls), fake storage and app contract, a job runner that is never
// started (jobs stay queued) and a manual clock. Requests go straight to api::handle, without
// sockets.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "respaldo/api/api.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/jobs/runner.hpp"
#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "support/async_test.hpp"
#include "support/fake_contract.hpp"
#include "support/fake_storage.hpp"
#include "support/fake_store.hpp"
#include "support/manual_clock.hpp"
#include "support/temp_files.hpp"

namespace respaldo::test {

inline constexpr const char* admin_token = "admin-secret-token";

// The guide's registration body for `name`.
inline std::string registration(const std::string& name) {
  return R"({"name": ")" + name +
         R"(", "url": "http://mi-app:8000", "token": "secreto", "drive_folder_id": "1AbC2dEfG3",
            "schedule": "0 3 * * *", "retention": {"daily": 7, "weekly": 4}})";
}

struct api_fixture {
  enum class backend { sqlite, fake };
  explicit api_fixture(backend b = backend::sqlite) : kind(b) {}

  backend kind;  // before db, which it chooses
  temp_dir dir{"respaldo-api"};
  secret_box box = secret_box::generate();
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  std::unique_ptr<store> db = open_store();
  token_seal tokens{box, log};
  metrics stats;
  boost::asio::io_context io;
  manual_clock clock{*parse_rfc3339("2026-12-01T10:00:00Z")};
  fake_storage backups;
  fake_contract apps;
  job_runner runner{io.get_executor(), *db, tokens, backups, apps, clock,
                    runner_options{},  log, stats};
  std::vector<std::string> changed;  // app_changed notifications
  api rest{services(&runner)};

  // The fake store's call counts (backend::fake only).
  std::map<std::string, int, std::less<>>& store_calls() {
    auto* fake = dynamic_cast<fake_store*>(db.get());
    REQUIRE(fake);
    return fake->calls;
  }

  std::unique_ptr<store> open_store() {
    if (kind == backend::fake) return std::make_unique<fake_store>();
    auto s = make_sqlite_store(dir.file("respaldo.db"), log);
    if (!s) FAIL(s.error().message);
    return std::move(*s);
  }

  api_services services(job_runner* jobs) {
    return api_services{*db,      tokens,
                        log,      stats,
                        clock,    admin_token,
                        "UTC",    jobs,
                        &backups, [this](const std::string& app) { changed.push_back(app); }};
  }

  using query = std::vector<std::pair<std::string, std::string>>;

  static http_request request(std::string method, std::string path, std::string body = "",
                              query q = {}, std::string content_type = "application/json") {
    http_request req;
    req.method = std::move(method);
    req.path = path;
    req.target = std::move(path);
    req.query = std::move(q);
    req.body = std::move(body);
    if (!req.body.empty()) req.headers.push_back({"Content-Type", std::move(content_type)});
    req.headers.push_back({"Authorization", std::string("Bearer ") + admin_token});
    req.request_id = "req-1";
    return req;
  }

  http_response call(http_request req) { return call_on(rest, req); }
  http_response call_on(api& target, http_request& req) {
    return run_with_deadline(io, target.handle(req));
  }
  http_response get(const std::string& path, query q = {}) {
    return call(request("GET", path, "", std::move(q)));
  }
  http_response post(const std::string& path, const std::string& body = "") {
    return call(request("POST", path, body));
  }

  http_response register_app(const std::string& name) {
    auto res = post("/api/apps", registration(name));
    REQUIRE(res.status == 201);
    return res;
  }

  backup_record add_backup(const std::string& app, const std::string& id, std::string bytes) {
    backup_record b;
    b.id = id;
    b.app = app;
    b.job_id = "job-" + id;
    b.created_at = clock.now();
    b.size = bytes.size();
    sha256 h;
    h.update(bytes.data(), bytes.size());
    b.sha256 = h.finish_hex();
    b.format = "tar.gz";
    b.location = app + "/" + id + ".tar.gz";
    b.name = id + ".tar.gz";
    backups.objects[b.location] = {std::move(bytes), app, "1AbC2dEfG3", b.name};
    REQUIRE(db->insert_backup(b));
    return b;
  }
};

inline boost::json::object body_of(const http_response& res) {
  auto v = boost::json::parse(res.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

// The problem+json `code` of a refusal.
inline std::string code_of(const http_response& res) {
  auto h = res.header("Content-Type");
  REQUIRE(h);
  CHECK(*h == "application/problem+json");
  return std::string(body_of(res).at("code").as_string());
}

inline std::string field_of(const http_response& res) {
  auto b = body_of(res);
  return b.contains("field") ? std::string(b.at("field").as_string()) : "";
}

}  // namespace respaldo::test
