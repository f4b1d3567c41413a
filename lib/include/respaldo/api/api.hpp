// The REST API: routing table, admin authentication and the handlers of apps, backups, jobs,
// health and metrics. Handlers only translate between HTTP and the services; they know no SQL
// and no sockets. In lib/src/api/: routes.cpp (the table), auth.cpp, request.cpp (query and body
// readers), views.cpp (JSON shapes), validation.cpp and one file per resource.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "respaldo/http/message.hpp"
#include "respaldo/http/router.hpp"

namespace respaldo {

class store;
class token_seal;
class logger;
class metrics;
class storage;
class job_runner;
class wall_clock;
struct app_record;
struct address_policy;
class outbox;
class event_hub;

struct api_services {
  store& db;
  token_seal& tokens;  // seals registered tokens, opens them to show token_set
  logger& log;
  metrics& stats;
  const wall_clock& clock;  // created_at / updated_at of registrations and patches
  std::string admin_token;
  std::string default_timezone = "UTC";
  job_runner* jobs = nullptr;  // backups and verification
  storage* backups = nullptr;  // /content downloads
  // Told when an app is created, changed or deleted (the scheduler recomputes its timer).
  std::function<void(const std::string& app)> app_changed;
  // --app-networks, checked against registered URLs (null or empty: any).
  const address_policy* app_addresses = nullptr;
  // Notifications: test deliveries go through it (null: POST .../test answers 503).
  outbox* notifications = nullptr;
  std::size_t max_notifiers = 64;
  // Lifetime of the links of POST /api/backups/{id}/download-url (--download-link-ttl).
  std::chrono::seconds download_link_ttl{300};
  // Signs those links; empty: a random key of this process (links die with it).
  std::string download_link_key = std::string();
  // GET /api/events streams from it (null: 503 events_unavailable).
  event_hub* events = nullptr;
  // Empty: /metrics is open; else it requires this bearer token (the admin token does not open
  // it unless they are the same).
  std::string metrics_token = std::string();
};

class api {
 public:
  explicit api(api_services services);
  ~api();

  // Authentication, routing (404 / 405 with Allow) and the handler itself.
  boost::asio::awaitable<http_response> handle(http_request& req);
  const router& routes() const;
  // The routing table alone, without services: lets tests compare it with the OpenAPI document.
  static router describe_routes();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace respaldo
