// The freshness monitor, stepped with a manual clock over the fake store: one transition per
// episode, stored so that a new monitor (a restart) neither repeats nor loses one.
#include "respaldo/schedule/freshness_monitor.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <sstream>

#include "respaldo/core/log.hpp"
#include "respaldo/core/time_format.hpp"
#include "store/store_records.hpp"
#include "support/fake_store.hpp"
#include "support/manual_clock.hpp"

namespace {

using namespace respaldo;
using namespace respaldo::test;
using namespace std::chrono_literals;

struct fixture {
  boost::asio::io_context io;
  fake_store db;
  manual_clock clock{at(1'700'000'000)};
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  std::vector<freshness_change> changes;

  std::unique_ptr<freshness_monitor> monitor() {
    auto m = std::make_unique<freshness_monitor>(io.get_executor(), db, clock,
                                                 freshness_monitor_options{}, log);
    m->on_change([this](const freshness_change& c) { changes.push_back(c); });
    return m;
  }

  void add_app(const std::string& name, std::chrono::seconds stale_after) {
    auto a = make_app(name);
    a.created_at = clock.now();
    a.stale_after = stale_after;
    REQUIRE(db.insert_app(a).has_value());
  }

  void add_good_backup(const std::string& app, const std::string& id) {
    auto b = make_backup(id, app);
    b.created_at = clock.now();
    REQUIRE(db.insert_backup(b).has_value());
  }
};

}  // namespace

TEST_CASE("freshness monitor: one stale and one fresh-again transition per episode",
          "[freshness]") {
  fixture f;
  f.add_app("x", 100s);
  auto m = f.monitor();
  // Fresh right after registration: due when stale_after has passed.
  CHECK(m->evaluate_all() == at(1'700'000'100));
  CHECK(f.changes.empty());
  f.clock.advance(100s);
  CHECK(m->evaluate_all() == at(1'700'000'100));  // exactly stale_after: not yet
  CHECK(f.changes.empty());

  f.clock.advance(1s);
  CHECK_FALSE(m->evaluate_all());
  REQUIRE(f.changes.size() == 1);
  CHECK(f.changes[0].app == "x");
  CHECK(f.changes[0].stale);
  CHECK(f.changes[0].at == at(1'700'000'100));
  CHECK(f.changes[0].stale_after == 100s);
  CHECK_FALSE(f.changes[0].newest_good_backup);
  CHECK(f.db.get_app("x")->value().stale_since == at(1'700'000'100));
  CHECK_THAT(f.log_text.str(), Catch::Contains("app is stale"));

  // Still stale later: no second event.
  f.clock.advance(500s);
  m->evaluate_all();
  CHECK(f.changes.size() == 1);

  f.add_good_backup("x", "b1");
  m->evaluate_app("x");
  REQUIRE(f.changes.size() == 2);
  CHECK_FALSE(f.changes[1].stale);
  CHECK(f.changes[1].at == f.clock.now());
  CHECK(f.changes[1].newest_good_backup == f.clock.now());
  CHECK_FALSE(f.db.get_app("x")->value().stale_since);
  m->evaluate_all();
  CHECK(f.changes.size() == 2);

  // The next episode starts stale_after after that backup.
  f.clock.advance(101s);
  m->evaluate_all();
  REQUIRE(f.changes.size() == 3);
  CHECK(f.changes[2].stale);
  CHECK(f.changes[2].at == at(1'700'000'000 + 601 + 100));
}

TEST_CASE("freshness monitor: an episode survives a restart without a repeated event",
          "[freshness]") {
  fixture f;
  f.add_app("x", 100s);
  f.clock.advance(200s);
  f.monitor()->evaluate_all();
  REQUIRE(f.changes.size() == 1);
  // A new monitor (respaldo restarted) reads the stored episode.
  auto again = f.monitor();
  again->evaluate_all();
  CHECK(f.changes.size() == 1);
  f.add_good_backup("x", "b1");
  again->evaluate_all();
  REQUIRE(f.changes.size() == 2);
  CHECK_FALSE(f.changes[1].stale);
}

TEST_CASE("freshness monitor: only good backups count, and a failed write reports nothing",
          "[freshness]") {
  fixture f;
  f.add_app("x", 100s);
  auto corrupt = make_backup("c1", "x");
  corrupt.created_at = f.clock.now() + 150s;
  corrupt.status = backup_status::corrupt;
  REQUIRE(f.db.insert_backup(corrupt).has_value());
  f.clock.advance(200s);
  auto m = f.monitor();
  f.db.fail_operation("set_app_stale_since");
  m->evaluate_all();
  CHECK(f.changes.empty());  // not recorded, so not reported: the next round tries again
  CHECK(f.db.calls["set_app_stale_since"] == 1);
  f.db.heal();
  m->evaluate_all();
  REQUIRE(f.changes.size() == 1);
  CHECK(f.changes[0].stale);

  f.db.fail_operation("app_activities");
  CHECK_FALSE(m->evaluate_all());
  CHECK_THAT(f.log_text.str(), Catch::Contains("could not read"));
}

TEST_CASE("freshness monitor: an app without stale_after uses its schedule's default",
          "[freshness]") {
  fixture f;
  auto a = make_app("daily");  // 0 3 * * *: 48 h
  a.created_at = f.clock.now();
  REQUIRE(f.db.insert_app(a).has_value());
  auto m = f.monitor();
  CHECK(m->evaluate_all() == f.clock.now() + 48h);
  f.clock.advance(48h + 1s);
  m->evaluate_all();
  REQUIRE(f.changes.size() == 1);
  CHECK(f.changes[0].stale_after == 48h);
}

namespace {

struct recording_sink final : respaldo::event_sink {
  std::vector<respaldo::event_record> events;
  void publish(const respaldo::event_record& e) override { events.push_back(e); }
};

}  // namespace

TEST_CASE("freshness monitor: transitions reach the event sink as backup.stale / fresh_again",
          "[freshness]") {
  fixture f;
  recording_sink sink;
  f.add_app("x", 100s);
  auto m = f.monitor();
  m->set_event_sink(&sink);
  f.clock.advance(101s);
  m->evaluate_all();
  m->evaluate_all();  // still the same episode
  REQUIRE(sink.events.size() == 1);
  CHECK(sink.events[0].kind == event_kind::backup_stale);
  CHECK(sink.events[0].app == "x");
  CHECK(sink.events[0].at == at(1'700'000'100));
  CHECK(sink.events[0].error_code == "stale");
  CHECK(sink.events[0].error_message == "no good backup yet; stale_after is 100s");
  CHECK(sink.events[0].job_id.empty());

  f.add_good_backup("x", "b1");
  m->evaluate_app("x");
  REQUIRE(sink.events.size() == 2);
  CHECK(sink.events[1].kind == event_kind::backup_fresh_again);
  CHECK(sink.events[1].error_code.empty());

  f.clock.advance(101s);
  m->evaluate_all();
  REQUIRE(sink.events.size() == 3);
  CHECK(sink.events[2].kind == event_kind::backup_stale);
  CHECK_THAT(sink.events[2].error_message,
             Catch::Contains("no good backup since " + format_rfc3339_utc(at(1'700'000'101))));
}
