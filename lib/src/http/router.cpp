#include "respaldo/http/router.hpp"

#include <stdexcept>

namespace respaldo {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_capture(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void router::add(std::string method, std::string pattern, route_handler handler) {
  if (pattern.empty() || pattern.front() != '/') throw std::logic_error("route must start with /");
  entry e{std::move(method), std::move(pattern), {}, std::move(handler)};
  for (auto seg : split_path(e.pattern)) {
    if (seg.empty() && e.pattern != "/") throw std::logic_error("empty segment in " + e.pattern);
    e.segments.emplace_back(seg);
  }
  for (const auto& other : entries_)
    if (other.method == e.method && other.pattern == e.pattern)
      throw std::logic_error("duplicate route " + e.method + " " + e.pattern);
  entries_.push_back(std::move(e));
}

route_match router::match(std::string_view method, std::string_view path) const {
  route_match m;
  const auto segments = split_path(path);
  for (const auto& e : entries_) {
    if (e.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& want = e.segments[i];
      if (is_capture(want)) {
        if (segments[i].empty())
          ok = false;
        else
          params[want.substr(1, want.size() - 2)] = std::string(segments[i]);
      } else {
        ok = want == segments[i];
      }
    }
    if (!ok) continue;
    if (e.method == method) {
      m.result = route_match::outcome::found;
      m.handler = &e.handler;
      m.params = std::move(params);
      m.allow.clear();
      m.pattern = e.pattern;
      return m;
    }
    if (m.result != route_match::outcome::method_not_allowed) m.pattern = e.pattern;
    m.result = route_match::outcome::method_not_allowed;
    if (m.allow.find(e.method) == std::string::npos) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += e.method;
    }
  }
  return m;
}

std::vector<router::route> router::routes() const {
  std::vector<route> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back({e.method, e.pattern});
  return out;
}

}  // namespace respaldo
