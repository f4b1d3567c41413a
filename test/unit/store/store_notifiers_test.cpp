// Notifiers and their outbox, run against every store backend.
#include <catch2/catch.hpp>

#include "store/store_backends.hpp"
#include "store/store_records.hpp"

namespace {

using namespace respaldo;
using namespace respaldo::test;

notifier_record make_notifier(const std::string& name) {
  notifier_record n;
  n.name = name;
  n.kind = notifier_kind::webhook;
  n.sealed_url = test_box().seal("https://hooks.example.com/x", name);
  n.sealed_secret = test_box().seal("s3cret", name);
  n.url_host = "hooks.example.com";
  n.events = {event_kind::backup_failed, event_kind::backup_stale};
  n.apps = {"mi-app", "otra"};
  n.created_at = at(1'700'000'000);
  n.updated_at = at(1'700'000'100);
  return n;
}

sys_millis ms(std::int64_t v) {
  return sys_millis{std::chrono::milliseconds{v}};
}

delivery_record make_delivery(const std::string& id, const std::string& notifier,
                              std::int64_t next) {
  delivery_record d;
  d.id = id;
  d.notifier = notifier;
  d.event = event_kind::backup_failed;
  d.app = "mi-app";
  d.document = R"({"event":"backup.failed"})";
  d.created_at = ms(next);
  d.next_attempt_at = ms(next);
  return d;
}

}  // namespace

TEMPLATE_TEST_CASE("store notifiers: insert, get, list, update keeping sealed values, delete",
                   "[store][notify]", sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  auto n = make_notifier("ops");
  REQUIRE(s->insert_notifier(n).has_value());
  CHECK(s->insert_notifier(n).error().code == errc::conflict);

  auto got = s->get_notifier("ops");
  REQUIRE(got.has_value());
  REQUIRE(got->has_value());
  const auto& g = **got;
  CHECK(g.kind == notifier_kind::webhook);
  CHECK(test_box().open(g.sealed_url, "ops") == "https://hooks.example.com/x");
  CHECK(test_box().open(g.sealed_secret, "ops") == "s3cret");
  CHECK(g.url_host == "hooks.example.com");
  CHECK(g.events == n.events);
  CHECK(g.apps == n.apps);
  CHECK(g.enabled);
  CHECK(g.created_at == n.created_at);
  CHECK(g.updated_at == n.updated_at);
  CHECK_FALSE(s->get_notifier("nope")->has_value());

  REQUIRE(s->insert_notifier(make_notifier("alpha")).has_value());
  auto all = s->list_notifiers();
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "alpha");

  SECTION("an update with empty sealed values keeps them; clear_secret removes the secret") {
    notifier_record u = g;
    u.sealed_url.clear();
    u.sealed_secret.clear();
    u.enabled = false;
    u.disabled_reason = "410";
    u.apps.clear();
    REQUIRE(s->update_notifier(u, false).has_value());
    auto kept = **s->get_notifier("ops");
    CHECK(kept.sealed_url == g.sealed_url);
    CHECK(kept.sealed_secret == g.sealed_secret);
    CHECK_FALSE(kept.enabled);
    CHECK(kept.disabled_reason == "410");
    CHECK(kept.apps.empty());
    REQUIRE(s->update_notifier(u, true).has_value());
    CHECK((**s->get_notifier("ops")).sealed_secret.empty());
    u.name = "nope";
    CHECK(s->update_notifier(u, false).error().code == errc::not_found);
  }

  SECTION("delete removes the notifier and its deliveries") {
    auto d = make_delivery("d1", "ops", 1000);
    REQUIRE(s->insert_delivery(d).has_value());
    REQUIRE(s->delete_notifier("ops").has_value());
    CHECK(s->delete_notifier("ops").error().code == errc::not_found);
    CHECK(s->list_deliveries("ops", 10)->empty());
    CHECK(*s->count_pending_deliveries() == 0);
  }
}

TEMPLATE_TEST_CASE("store outbox: due rows, updates, listing, bounds", "[store][notify]",
                   sqlite_backend, fake_backend) {
  TestType f;
  auto s = f.open();
  REQUIRE(s->insert_notifier(make_notifier("ops")).has_value());
  auto d1 = make_delivery("d1", "ops", 1000);
  auto d2 = make_delivery("d2", "ops", 3000);
  auto d3 = make_delivery("d3", "ops", 2000);
  for (auto* d : {&d1, &d2, &d3}) REQUIRE(s->insert_delivery(*d).has_value());
  CHECK(d1.seq < d2.seq);
  CHECK(s->insert_delivery(d1).error().code == errc::conflict);
  auto orphan = make_delivery("d9", "nobody", 1000);
  CHECK_FALSE(s->insert_delivery(orphan).has_value());

  auto due = s->due_deliveries(ms(2500), 10);
  REQUIRE(due.has_value());
  REQUIRE(due->size() == 2);
  CHECK((*due)[0].id == "d1");
  CHECK((*due)[1].id == "d3");
  CHECK((*due)[0].document == d1.document);
  CHECK(**s->next_delivery_at() == ms(1000));
  CHECK(*s->count_pending_deliveries() == 3);

  SECTION("an attempt's record round-trips; finished rows are not due") {
    d1.attempts = 2;
    d1.last_attempt_at = ms(1500);
    d1.last_status = 500;
    d1.last_error = "answered 500";
    d1.next_attempt_at = ms(9000);
    REQUIRE(s->update_delivery(d1).has_value());
    d3.state = delivery_state::delivered;
    d3.attempts = 1;
    REQUIRE(s->update_delivery(d3).has_value());
    CHECK(s->due_deliveries(ms(2500), 10)->empty());
    CHECK(**s->next_delivery_at() == ms(3000));
    auto listed = *s->list_deliveries("ops", 10);
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].id == "d3");  // newest first
    CHECK(listed[0].state == delivery_state::delivered);
    const auto& r1 = listed[2];
    CHECK(r1.attempts == 2);
    CHECK(r1.last_attempt_at == ms(1500));
    CHECK(r1.last_status == 500);
    CHECK(r1.last_error == "answered 500");
    CHECK(r1.next_attempt_at == ms(9000));
    CHECK(*s->count_pending_deliveries() == 2);
    auto missing = make_delivery("zz", "ops", 0);
    CHECK(s->update_delivery(missing).error().code == errc::not_found);
  }

  SECTION("the oldest pending rows are dropped beyond the bound") {
    CHECK(*s->drop_oldest_pending(1) == 2);
    auto listed = *s->list_deliveries("ops", 10);
    CHECK(listed[0].state == delivery_state::pending);  // d3, the newest
    CHECK(listed[1].state == delivery_state::dropped);
    CHECK(listed[2].state == delivery_state::dropped);
    CHECK(*s->count_pending_deliveries() == 1);
    CHECK(*s->drop_oldest_pending(1) == 0);
  }

  SECTION("pruning keeps pending rows and the newest finished ones") {
    for (auto* d : {&d1, &d2}) {
      d->state = delivery_state::delivered;
      REQUIRE(s->update_delivery(*d).has_value());
    }
    REQUIRE(s->prune_deliveries("ops", 1).has_value());
    auto listed = *s->list_deliveries("ops", 10);
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].id == "d3");  // pending, kept
    CHECK(listed[1].id == "d2");  // the newest finished one
  }
}
