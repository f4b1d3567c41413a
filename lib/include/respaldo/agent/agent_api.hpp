// The app contract as the agent serves it: GET /backup/capabilities, POST /backup/export and the
// deferred status URL /backup/export/jobs/{id} (docs/deferred-export.md), all behind the bearer
// token; GET /healthz is open. Requests choose nothing but which export to read.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "respaldo/agent/config.hpp"
#include "respaldo/agent/exports.hpp"
#include "respaldo/core/log.hpp"
#include "respaldo/http/message.hpp"

namespace respaldo {

class agent_api {
 public:
  agent_api(const agent_config& cfg, export_service& exports, logger& log);
  ~agent_api();
  agent_api(const agent_api&) = delete;
  agent_api& operator=(const agent_api&) = delete;
  boost::asio::awaitable<http_response> handle(http_request& req);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace respaldo
