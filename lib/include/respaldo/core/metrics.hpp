// A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace respaldo {

using metric_labels = std::vector<std::pair<std::string, std::string>>;

class metrics {
 public:
  enum class kind { counter, gauge };

  void describe(std::string name, kind k, std::string help);
  void add(const std::string& name, double delta, const metric_labels& labels = {});
  void set(const std::string& name, double value, const metric_labels& labels = {});
  // Called at render time, for values owned elsewhere (store timings, queue sizes).
  void on_render(std::function<void(metrics&)> collector);
  std::string render();

 private:
  struct family {
    kind k = kind::gauge;
    std::string help;
    std::map<std::string, double> series;  // rendered label set -> value
  };
  std::map<std::string, family> families_;
  std::vector<std::function<void(metrics&)>> collectors_;
  std::mutex mutex_;
};

}  // namespace respaldo
