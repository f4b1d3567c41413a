// What the API's handlers share: the services, the request readers and the common refusals.
// Private to lib/src/api/; the public face is respaldo/api/api.hpp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "respaldo/api/api.hpp"
#include "respaldo/api/download_link.hpp"
#include "respaldo/api/validation.hpp"
#include "respaldo/http/message.hpp"

namespace respaldo::api_detail {

using handler_result = boost::asio::awaitable<http_response>;

// A value read from the request, or the response that refuses the request: in the HTTP layer a
// refusal is itself a response, ready to send.
template <class T>
using or_response = boost::system::result<T, http_response>;

struct api_context {
  api_services svc;
  // Signs the links of POST /api/backups/{id}/download-url (a key of this process only).
  download_signer links;

  // Tells the scheduler (when wired) that an app was created, changed or deleted.
  void app_changed(const std::string& name) const {
    if (svc.app_changed) svc.app_changed(name);
  }
};

// ---- request readers (request.cpp) ------------------------------------------------------------

// The body parsed as JSON, refused with 415 for another media type and 400 for broken JSON.
or_response<boost::json::value> read_json_body(const http_request& req,
                                               std::initializer_list<std::string_view> types);
// `limit`: 50 when absent, 1 to 500 when given.
or_response<std::size_t> read_limit(const http_request& req);
// A numeric `cursor` as returned in next_cursor (a sequence number), or none.
or_response<std::optional<std::int64_t>> read_seq_cursor(const http_request& req);
// A textual `cursor` (an app name), empty when absent.
or_response<std::string> read_name_cursor(const http_request& req);
std::string encode_cursor(std::string_view v);

// A page answer {items, next_cursor} from rows fetched with limit + 1: the extra row only says
// that more follow, and next_cursor is the key of the last row shown.
template <class Row, class Key, class View>
http_response page_response(const std::vector<Row>& rows, std::size_t limit, Key key_of,
                            View view_of) {
  boost::json::array items;
  boost::json::value next = nullptr;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i == limit) {
      next = boost::json::value(encode_cursor(key_of(rows[i - 1])));
      break;
    }
    items.push_back(view_of(rows[i]));
  }
  return json_response(200,
                       boost::json::object{{"items", std::move(items)}, {"next_cursor", next}});
}

// ---- common responses -------------------------------------------------------------------------

http_response store_failure();
http_response app_not_found(const std::string& id);
http_response job_not_found(const std::string& id);
http_response backup_not_found(const std::string& id);
// A refused request body: 422 with the failure's code and the field it names.
http_response validation_problem(const failure& e);
// Success, or the validation failure of a URL whose host lies outside --app-networks.
boost::asio::awaitable<outcome<void>> check_app_url_address(const api_context& ctx,
                                                            const std::string& url);
http_response accepted_job(const job_record& job);

// ---- handlers, one file per resource ----------------------------------------------------------

// health.cpp
handler_result healthz(api_context& ctx, http_request& req);
handler_result readyz(api_context& ctx, http_request& req);
handler_result metrics_text(api_context& ctx, http_request& req);
// apps.cpp
handler_result create_app(api_context& ctx, http_request& req);
handler_result list_apps(api_context& ctx, http_request& req);
handler_result get_app(api_context& ctx, http_request& req);
handler_result update_app(api_context& ctx, http_request& req);
handler_result delete_app(api_context& ctx, http_request& req);
// jobs.cpp
handler_result start_backup(api_context& ctx, http_request& req);
handler_result start_verify(api_context& ctx, http_request& req);
handler_result list_jobs(api_context& ctx, http_request& req);
handler_result get_job(api_context& ctx, http_request& req);
handler_result cancel_job(api_context& ctx, http_request& req);
// backups.cpp
handler_result list_app_backups(api_context& ctx, http_request& req);
handler_result retention_plan(api_context& ctx, http_request& req);
handler_result get_backup(api_context& ctx, http_request& req);
handler_result delete_backup(api_context& ctx, http_request& req);
// backup_content.cpp
handler_result backup_content(api_context& ctx, http_request& req);
// drills.cpp
handler_result report_drill(api_context& ctx, http_request& req);
handler_result backup_download_url(api_context& ctx, http_request& req);
// The content route with a `sig` query parameter: the signature stands in for the admin token.
bool is_signed_content_request(const http_request& req);
// ui.cpp (the dashboard)
handler_result ui_index(api_context& ctx, http_request& req);
handler_result ui_asset(api_context& ctx, http_request& req);
// events.cpp
handler_result stream_events(api_context& ctx, http_request& req);
// notifiers.cpp
handler_result create_notifier(api_context& ctx, http_request& req);
handler_result list_notifiers(api_context& ctx, http_request& req);
handler_result get_notifier(api_context& ctx, http_request& req);
handler_result update_notifier(api_context& ctx, http_request& req);
handler_result delete_notifier(api_context& ctx, http_request& req);
handler_result test_notifier(api_context& ctx, http_request& req);
handler_result list_deliveries(api_context& ctx, http_request& req);

// ---- authentication (auth.cpp) ----------------------------------------------------------------

// Under /api, the admin bearer token is checked before routing; the 401 to send, or none.
std::optional<http_response> refuse_unauthenticated(const api_context& ctx,
                                                    const http_request& req);

}  // namespace respaldo::api_detail
