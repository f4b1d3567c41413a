// The app contract over HTTP (proto/app-contract.openapi.yaml): probes GET /backup/capabilities
// and opens POST /backup/export, following the deferred protocol (202 -> poll status_url -> 200
// download or 303 to it) until the backup stream starts.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "respaldo/contract/client.hpp"
#include "respaldo/contract/deferred_poll.hpp"
#include "respaldo/core/error.hpp"
#include "respaldo/http/client/client.hpp"

namespace respaldo {

struct app_record;
class job_control;

// Validates the three contract headers of a download response.
outcome<export_stream> read_contract_headers(const http_client_response_head& head);
// Parses a capabilities document; version must be "v1".
outcome<app_capabilities> parse_capabilities(std::string_view body);

// A 200 from the status URL is a JSON status document rather than the download: no contract
// header and a JSON media type.
bool is_status_document(const http_client_response_head& head);
// The status URL a 202 names ("status_url" in its JSON body, else Location), on the app's origin.
outcome<parsed_url> accepted_status_url(const parsed_url& export_url,
                                        const http_client_response_head& head,
                                        std::string_view body);
// What a status document means when it is not a download: the app's own failure
// (app_export_failed) or a contract violation.
failure status_document_failure(std::string_view doc);

// The URL of a contract path below the registered app URL, whether or not that ends in '/':
// "http://host/app" and "http://host/app/" both give "http://host/app/backup/export".
outcome<parsed_url> contract_url(const std::string& app_url, std::string_view path);
// A GET of an export download; it carries the app's token only towards the app's own origin.
http_client_request download_request(const parsed_url& url, const app_record& app);
// A download must come from the app's own origin or from one the operator allowed
// (`allowed` holds lower-case "host" or "host:port", IPv6 hosts in brackets, as config keeps them);
// anything else is errc::app_contract_violation naming the host, before any byte is fetched from
// it.
outcome<void> check_download_origin(const app_record& app, const http_origin& target,
                                    const std::vector<std::string>& allowed);

// The contract client over HTTP (make_contract_client).
class exporter final : public contract_client {
 public:
  exporter(http_client& client, exporter_options options);

  boost::asio::awaitable<outcome<app_capabilities>> probe(const app_record& app,
                                                          job_control* control) override;
  boost::asio::awaitable<outcome<export_stream>> start(
      const app_record& app, job_control& control,
      std::function<void(const std::string& note)> on_progress) override;
  boost::asio::awaitable<outcome<export_stream>> reopen(const app_record& app,
                                                        const std::string& download_url,
                                                        std::uint64_t offset,
                                                        job_control& control) override;

 private:
  boost::asio::awaitable<outcome<export_stream>> get_download(const app_record& app,
                                                              const parsed_url& url,
                                                              std::uint64_t offset,
                                                              job_control& control,
                                                              int redirects_left);
  // Polls a deferred export's status URL until the download starts or the export fails.
  boost::asio::awaitable<outcome<export_stream>> poll_status(const app_record& app,
                                                             const parsed_url& status_url,
                                                             job_control& control);
  http_client& client_;
  exporter_options options_;
};

}  // namespace respaldo
