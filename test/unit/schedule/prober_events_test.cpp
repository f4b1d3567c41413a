// The prober publishes health transitions through the event sink, not every probe.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <sstream>

#include "respaldo/core/log.hpp"
#include "respaldo/core/metrics.hpp"
#include "respaldo/crypto/crypto.hpp"
#include "respaldo/crypto/token_seal.hpp"
#include "respaldo/schedule/prober.hpp"
#include "support/async_test.hpp"
#include "support/fake_contract.hpp"
#include "support/fake_store.hpp"

using namespace respaldo;

namespace {

struct recording_sink final : event_sink {
  std::vector<event_record> events;
  void publish(const event_record& e) override { events.push_back(e); }
};

}  // namespace

TEST_CASE("prober: app.unhealthy once when probes start failing, app.healthy_again after",
          "[prober][notify]") {
  secret_box box = secret_box::generate();
  std::ostringstream log_text;
  logger log{log_format::text, &log_text, log_level::debug};
  test::fake_store db;
  token_seal tokens{box, log};
  metrics stats;
  boost::asio::io_context io;
  test::fake_contract apps;
  app_record a;
  a.name = "mi-app";
  a.url = "http://mi-app.invalid:8000";
  a.sealed_token = tokens.seal("mi-app", "app-token");
  REQUIRE(db.insert_app(a));
  prober probes(io.get_executor(), db, tokens, apps, prober_options{}, log, stats);
  recording_sink sink;
  probes.set_event_sink(&sink);
  auto probe = [&] { test::run_with_deadline(io, probes.probe_one("mi-app")); };

  probe();  // unknown -> ok
  CHECK(sink.events.empty());
  apps.apps["mi-app"].probe_failure =
      failure{make_error_code(errc::app_unreachable), "connection refused"};
  probe();
  probe();  // still failing: no second event
  REQUIRE(sink.events.size() == 1);
  CHECK(sink.events[0].kind == event_kind::app_unhealthy);
  CHECK(sink.events[0].app == "mi-app");
  CHECK(sink.events[0].error_code == "unreachable");
  CHECK(sink.events[0].error_message.find("connection refused") != std::string::npos);
  apps.apps["mi-app"].probe_failure.reset();
  probe();
  probe();
  REQUIRE(sink.events.size() == 2);
  CHECK(sink.events[1].kind == event_kind::app_healthy_again);
  CHECK(sink.events[1].error_code.empty());
  CHECK(apps.probes == 5);
}
