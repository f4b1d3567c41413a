// The per-app families of /metrics, rebuilt from the store at each render (store
// app_activities), so they are right after a restart and a deleted app's series disappear:
//   respaldo_backup_last_success_timestamp_seconds, respaldo_backup_last_attempt_timestamp_seconds,
//   respaldo_backup_last_status (0 succeeded, 1 failed), respaldo_backup_last_size_bytes,
//   respaldo_backup_duration_seconds (histogram), respaldo_backups_total{outcome},
//   respaldo_backup_bytes_total, respaldo_app_stale, respaldo_app_up (omitted before the first
//   probe), respaldo_verify_last_success_timestamp_seconds, respaldo_backups_stored{status},
//   respaldo_backup_next_run_timestamp_seconds.
#pragma once

#include <string>
#include <vector>

namespace respaldo {

class metrics;
class store;
class wall_clock;

// Upper bounds of respaldo_backup_duration_seconds, from a second to a day.
std::vector<double> backup_duration_buckets();

void describe_backup_metrics(metrics& stats, store& db, const wall_clock& clock,
                             std::string default_timezone);

}  // namespace respaldo
