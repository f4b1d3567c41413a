#include "respaldo/core/metrics.hpp"

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
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

}  // namespace

void metrics::describe(std::string name, kind k, std::string help) {
  std::lock_guard lock(mutex_);
  auto& f = families_[std::move(name)];
  f.k = k;
  f.help = std::move(help);
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
    out += "# TYPE " + name + (f.k == kind::counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, value] : f.series)
      out += name + labels + " " + format_value(value) + "\n";
  }
  return out;
}

}  // namespace respaldo
