#include "respaldo/core/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "respaldo/core/metrics.hpp"

namespace respaldo {
namespace {

double cpu_seconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// The second field of /proc/self/statm is the resident set in pages.
double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n > 0 ? n - 1 : 0;  // the iterator's own descriptor is listed too
}

}  // namespace

void describe_process_metrics(metrics& stats, const std::string& version) {
  stats.describe("respaldo_build_info", metrics::kind::gauge,
                 "Always 1; the version label says which respaldo runs.");
  stats.set("respaldo_build_info", 1, {{"version", version}});
  stats.describe("process_start_time_seconds", metrics::kind::gauge,
                 "Start time of the process since the Unix epoch.");
  const auto start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch());
  stats.set("process_start_time_seconds", std::floor(start.count()));
  stats.describe("process_cpu_seconds_total", metrics::kind::counter,
                 "User and system CPU time spent.");
  stats.describe("process_resident_memory_bytes", metrics::kind::gauge, "Resident memory size.");
  stats.describe("process_open_fds", metrics::kind::gauge, "Open file descriptors.");
  stats.on_render([](metrics& m) {
    m.set("process_cpu_seconds_total", cpu_seconds());
    m.set("process_resident_memory_bytes", resident_bytes());
    m.set("process_open_fds", open_fds());
  });
}

}  // namespace respaldo
