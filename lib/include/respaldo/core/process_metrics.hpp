// The process families every Prometheus client exposes (process_start_time_seconds,
// process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds) and
// respaldo_build_info{version}, read from the kernel at render time.
#pragma once

#include <string>

namespace respaldo {

class metrics;

void describe_process_metrics(metrics& stats, const std::string& version);

}  // namespace respaldo
