#include "respaldo/core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace respaldo {
namespace {

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string render_labels(const metric_labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
  }
  return out + "}";
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

// `labels` ("" or "{a=\"b\"}") with one more label appended.
std::string with_label(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return "{" + extra + "}";
  return labels.substr(0, labels.size() - 1) + "," + extra + "}";
}

std::string_view type_name(metrics::kind k) {
  switch (k) {
    case metrics::kind::counter:
      return "counter";
    case metrics::kind::gauge:
      return "gauge";
    case metrics::kind::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void metrics::describe(std::string name, kind k, std::string help, std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  auto& f = families_[std::move(name)];
  f.k = k;
  f.help = std::move(help);
  std::sort(buckets.begin(), buckets.end());
  f.buckets = std::move(buckets);
}

void metrics::observe(const std::string& name, double value, const metric_labels& labels,
                      std::uint64_t times) {
  std::lock_guard lock(mutex_);
  auto& f = families_[name];
  auto& h = f.histograms[render_labels(labels)];
  h.counts.resize(f.buckets.size() + 1);
  const auto bucket = std::lower_bound(f.buckets.begin(), f.buckets.end(), value);
  h.counts[static_cast<std::size_t>(bucket - f.buckets.begin())] += times;
  h.sum += value * static_cast<double>(times);
  h.count += times;
}

void metrics::clear(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    it->second.series.clear();
    it->second.histograms.clear();
  }
}

void metrics::render_histogram(std::string& out, const std::string& name, const family& f) {
  for (const auto& [labels, h] : f.histograms) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= f.buckets.size(); ++i) {
      cumulative += i < h.counts.size() ? h.counts[i] : 0;
      const std::string le = i < f.buckets.size() ? format_value(f.buckets[i]) : "+Inf";
      out += name + "_bucket" + with_label(labels, "le=\"" + le + "\"") + " " +
             std::to_string(cumulative) + "\n";
    }
    out += name + "_sum" + labels + " " + format_value(h.sum) + "\n";
    out += name + "_count" + labels + " " + std::to_string(h.count) + "\n";
  }
}

void metrics::add(const std::string& name, double delta, const metric_labels& labels) {
  std::lock_guard lock(mutex_);
  families_[name].series[render_labels(labels)] += delta;
}

void metrics::set(const std::string& name, double value, const metric_labels& labels) {
  std::lock_guard lock(mutex_);
  families_[name].series[render_labels(labels)] = value;
}

void metrics::on_render(std::function<void(metrics&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string metrics::render() {
  std::vector<std::function<void(metrics&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + std::string(type_name(f.k)) + "\n";
    if (f.k == kind::histogram) {
      render_histogram(out, name, f);
      continue;
    }
    for (const auto& [labels, value] : f.series)
      out += name + labels + " " + format_value(value) + "\n";
  }
  return out;
}

}  // namespace respaldo
