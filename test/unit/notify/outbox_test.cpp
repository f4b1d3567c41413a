// The outbox: which notifiers get a row for an event, the pending bound, and store failures.
#include "respaldo/notify/outbox.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <sstream>

#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "support/fake_store.hpp"

namespace {

using namespace respaldo;

struct fixture {
  test::fake_store db;
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  metrics stats;
  int wakes = 0;
  outbox box{db, log, stats, outbox_options{"http://respaldo:8080", 3}};

  fixture() {
    box.on_enqueued([this] { ++wakes; });
  }

  void add(const std::string& name, std::vector<event_kind> events,
           std::vector<std::string> apps = {}, bool enabled = true) {
    notifier_record n;
    n.name = name;
    n.sealed_url = "sealed";
    n.events = std::move(events);
    n.apps = std::move(apps);
    n.enabled = enabled;
    REQUIRE(db.insert_notifier(n).has_value());
  }
  std::size_t rows(const std::string& notifier) {
    return db.list_deliveries(notifier, 100)->size();
  }
};

event_record failed(const std::string& app) {
  event_record e;
  e.kind = event_kind::backup_failed;
  e.app = app;
  e.job_id = "j1";
  e.error_code = "app_unreachable";
  e.error_message = "connection refused";
  return e;
}

}  // namespace

TEST_CASE("an event gets one row per enabled notifier subscribed to it and its app", "[notify]") {
  fixture f;
  f.add("all", {event_kind::backup_failed});
  f.add("only-b", {event_kind::backup_failed}, {"b"});
  f.add("successes", {event_kind::backup_succeeded});
  f.add("off", {event_kind::backup_failed}, {}, false);
  f.box.publish(failed("a"));
  CHECK(f.rows("all") == 1);
  CHECK(f.rows("only-b") == 0);
  CHECK(f.rows("successes") == 0);
  CHECK(f.rows("off") == 0);
  CHECK(f.wakes == 1);
  f.box.publish(failed("b"));
  CHECK(f.rows("all") == 2);
  CHECK(f.rows("only-b") == 1);

  auto row = f.db.list_deliveries("only-b", 1)->front();
  CHECK(row.state == delivery_state::pending);
  CHECK(row.attempts == 0);
  CHECK(row.next_attempt_at == row.created_at);
  CHECK(row.id.size() == 32);
  auto doc = boost::json::parse(row.document).as_object();
  CHECK(doc.at("delivery_id").as_string() == row.id);
  CHECK(doc.at("app") == "b");
  CHECK(doc.at("job").at("url") == "http://respaldo:8080/api/jobs/j1");
  // Each row its own delivery id.
  CHECK(f.db.list_deliveries("all", 2)->at(0).id != f.db.list_deliveries("all", 2)->at(1).id);
}

TEST_CASE("an event nobody wants adds nothing and wakes nobody", "[notify]") {
  fixture f;
  f.add("successes", {event_kind::backup_succeeded});
  f.box.publish(failed("a"));
  CHECK(f.rows("successes") == 0);
  CHECK(f.wakes == 0);
}

TEST_CASE("beyond max_pending the oldest pending rows are dropped and counted", "[notify]") {
  fixture f;  // max_pending 3
  f.add("all", {event_kind::backup_failed});
  for (int i = 0; i < 5; ++i) f.box.publish(failed("a"));
  CHECK(*f.db.count_pending_deliveries() == 3);
  auto rows = *f.db.list_deliveries("all", 10);
  REQUIRE(rows.size() == 5);
  CHECK(rows[4].state == delivery_state::dropped);  // the oldest two
  CHECK(rows[3].state == delivery_state::dropped);
  CHECK(rows[2].state == delivery_state::pending);
  CHECK_THAT(f.stats.render(), Catch::Contains("respaldo_notifications_dropped_total 2"));
}

TEST_CASE("the test delivery ignores subscriptions, and store failures are logged, not thrown",
          "[notify]") {
  fixture f;
  f.add("quiet", {event_kind::backup_succeeded}, {"other"});
  auto n = **f.db.get_notifier("quiet");
  event_record e;
  e.kind = event_kind::notifier_test;
  auto d = f.box.enqueue(n, e);
  REQUIRE(d.has_value());
  CHECK(f.rows("quiet") == 1);
  CHECK(f.wakes == 1);

  f.db.fail_operation("insert_delivery");
  CHECK_FALSE(f.box.enqueue(n, e).has_value());
  f.add("all", {event_kind::backup_failed});
  f.box.publish(failed("a"));  // no throw
  CHECK_THAT(f.log_text.str(), Catch::Contains("could not queue a notification"));
  f.db.heal();
  f.db.fail_operation("list_notifiers");
  f.box.publish(failed("a"));
  CHECK_THAT(f.log_text.str(), Catch::Contains("could not read the notifiers"));
  CHECK(f.rows("all") == 0);
}
