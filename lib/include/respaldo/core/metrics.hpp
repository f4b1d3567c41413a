// A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
#pragma once

#include <cstdint>
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
  enum class kind { counter, gauge, histogram };

  // `buckets` are a histogram's upper bounds, ascending (+Inf is implied).
  void describe(std::string name, kind k, std::string help, std::vector<double> buckets = {});
  void add(const std::string& name, double delta, const metric_labels& labels = {});
  void set(const std::string& name, double value, const metric_labels& labels = {});
  // Counts `times` observations of `value` into a histogram described before.
  void observe(const std::string& name, double value, const metric_labels& labels = {},
               std::uint64_t times = 1);
  // Drops every series of a family: a collector that rebuilds a family from its source at render
  // time clears it first, so series of things gone (a deleted app) disappear.
  void clear(const std::string& name);
  // Called at render time, for values owned elsewhere (store timings, queue sizes).
  void on_render(std::function<void(metrics&)> collector);
  std::string render();

 private:
  struct histogram_series {
    std::vector<std::uint64_t> counts;  // per bucket, not cumulative; the last one is +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct family {
    kind k = kind::gauge;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, double> series;  // rendered label set -> value
    std::map<std::string, histogram_series> histograms;
  };
  static void render_histogram(std::string& out, const std::string& name, const family& f);

  std::map<std::string, family> families_;
  std::vector<std::function<void(metrics&)>> collectors_;
  std::mutex mutex_;
};

}  // namespace respaldo
