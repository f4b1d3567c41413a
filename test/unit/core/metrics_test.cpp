// The metrics registry's exposition: counters, gauges, histograms and families rebuilt at render
// time.
#include "respaldo/core/metrics.hpp"

#include <catch2/catch.hpp>

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("counters and gauges render with their type, help and labels", "[metrics]") {
  respaldo::metrics m;
  m.describe("x_total", respaldo::metrics::kind::counter, "Things.");
  m.describe("y_bytes", respaldo::metrics::kind::gauge, "Size.");
  m.add("x_total", 2, {{"app", "a\"b"}});
  m.add("x_total", 1, {{"app", "a\"b"}});
  m.set("y_bytes", 1.5);
  const auto text = m.render();
  CHECK(has_line(text, "# HELP x_total Things."));
  CHECK(has_line(text, "# TYPE x_total counter"));
  CHECK(has_line(text, "x_total{app=\"a\\\"b\"} 3"));
  CHECK(has_line(text, "# TYPE y_bytes gauge"));
  CHECK(has_line(text, "y_bytes 1.5"));
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, sum and count", "[metrics]") {
  respaldo::metrics m;
  m.describe("d_seconds", respaldo::metrics::kind::histogram, "Durations.", {10, 1, 60});
  m.observe("d_seconds", 1, {{"app", "x"}});  // on a bound: counted in le="1"
  m.observe("d_seconds", 30, {{"app", "x"}}, 2);
  m.observe("d_seconds", 3600, {{"app", "x"}});
  m.observe("d_seconds", 0.5);
  const auto text = m.render();
  CHECK(has_line(text, "# TYPE d_seconds histogram"));
  CHECK(has_line(text, "d_seconds_bucket{app=\"x\",le=\"1\"} 1"));
  CHECK(has_line(text, "d_seconds_bucket{app=\"x\",le=\"10\"} 1"));
  CHECK(has_line(text, "d_seconds_bucket{app=\"x\",le=\"60\"} 3"));
  CHECK(has_line(text, "d_seconds_bucket{app=\"x\",le=\"+Inf\"} 4"));
  CHECK(has_line(text, "d_seconds_sum{app=\"x\"} 3661"));
  CHECK(has_line(text, "d_seconds_count{app=\"x\"} 4"));
  CHECK(has_line(text, "d_seconds_bucket{le=\"1\"} 1"));
  CHECK(has_line(text, "d_seconds_count 1"));
}

TEST_CASE("a family cleared by its collector loses the series of things gone", "[metrics]") {
  respaldo::metrics m;
  m.describe("up", respaldo::metrics::kind::gauge, "Up.");
  m.describe("h_seconds", respaldo::metrics::kind::histogram, "H.", {1});
  std::vector<std::string> apps = {"a", "b"};
  m.on_render([&apps](respaldo::metrics& r) {
    r.clear("up");
    r.clear("h_seconds");
    for (const auto& a : apps) {
      r.set("up", 1, {{"app", a}});
      r.observe("h_seconds", 2, {{"app", a}});
    }
  });
  auto text = m.render();
  CHECK(has_line(text, "up{app=\"b\"} 1"));
  CHECK(has_line(text, "h_seconds_count{app=\"b\"} 1"));
  apps = {"a"};
  text = m.render();
  CHECK(has_line(text, "up{app=\"a\"} 1"));
  CHECK(has_line(text, "h_seconds_count{app=\"a\"} 1"));
  CHECK(text.find("app=\"b\"") == std::string::npos);
}
