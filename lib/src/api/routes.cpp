#include "routes.hpp"

#include <array>

namespace respaldo::api_detail {

std::span<const route_entry> route_table() {
  static constexpr std::array<route_entry, 30> table = {{
      {"GET", "/", &ui_index},
      {"GET", "/ui/{file}", &ui_asset},
      {"GET", "/healthz", &healthz},
      {"GET", "/readyz", &readyz},
      {"GET", "/metrics", &metrics_text},
      {"POST", "/api/apps", &create_app},
      {"GET", "/api/apps", &list_apps},
      {"GET", "/api/apps/{id}", &get_app},
      {"PATCH", "/api/apps/{id}", &update_app},
      {"DELETE", "/api/apps/{id}", &delete_app},
      {"POST", "/api/apps/{id}/backups", &start_backup},
      {"GET", "/api/apps/{id}/backups", &list_app_backups},
      {"GET", "/api/apps/{id}/retention", &retention_plan},
      {"POST", "/api/apps/{id}/verify", &start_verify},
      {"GET", "/api/jobs", &list_jobs},
      {"GET", "/api/jobs/{id}", &get_job},
      {"POST", "/api/jobs/{id}/cancel", &cancel_job},
      {"GET", "/api/backups/{id}", &get_backup},
      {"DELETE", "/api/backups/{id}", &delete_backup},
      {"GET", "/api/backups/{id}/content", &backup_content},
      {"POST", "/api/backups/{id}/drills", &report_drill},
      {"POST", "/api/backups/{id}/download-url", &backup_download_url},
      {"POST", "/api/notifiers", &create_notifier},
      {"GET", "/api/notifiers", &list_notifiers},
      {"GET", "/api/notifiers/{name}", &get_notifier},
      {"PATCH", "/api/notifiers/{name}", &update_notifier},
      {"DELETE", "/api/notifiers/{name}", &delete_notifier},
      {"POST", "/api/notifiers/{name}/test", &test_notifier},
      {"GET", "/api/notifiers/{name}/deliveries", &list_deliveries},
      {"GET", "/api/events", &stream_events},
  }};
  return table;
}

}  // namespace respaldo::api_detail
