// Validation of notifier bodies: every refusal names its field, and the URL is never repeated.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "respaldo/api/validation.hpp"

using namespace respaldo;

namespace {

outcome<notifier_record> create(std::string_view body) {
  return validate_notifier(boost::json::parse(body));
}

void refused(std::string_view body, const std::string& field) {
  INFO(body);
  auto n = create(body);
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().code == errc::validation_failed);
  CHECK(n.error().subject == field);
  CHECK(n.error().message.find("s3cr3t-path") == std::string::npos);
}

}  // namespace

TEST_CASE("notifier bodies: defaults, url_host and the fields read", "[api][notify]") {
  auto n = create(R"({"name":"ops","kind":"webhook","url":"https://Hooks.Example.com/s3cr3t-path",
                      "secret":"k"})");
  REQUIRE(n.has_value());
  CHECK(n->kind == notifier_kind::webhook);
  CHECK(n->url_host == "hooks.example.com");
  CHECK(n->secret == "k");
  CHECK(n->events == default_event_kinds());
  CHECK(n->apps.empty());
  auto hc = create(
      R"({"name":"hc","kind":"healthchecks","url":"http://hc:8000/ping/x","apps":["a","a"]})");
  REQUIRE(hc.has_value());
  CHECK(hc->url_host == "hc:8000");
  CHECK(hc->events == std::vector<event_kind>{event_kind::backup_started,
                                              event_kind::backup_succeeded,
                                              event_kind::backup_failed});
  CHECK(hc->apps == std::vector<std::string>{"a"});
  auto v6 = create(R"({"name":"v6","kind":"slack","url":"https://[2001:db8::1]:8443/x",
                       "events":["backup.succeeded","backup.succeeded"]})");
  REQUIRE(v6.has_value());
  CHECK(v6->url_host == "[2001:db8::1]:8443");
  CHECK(v6->events == std::vector<event_kind>{event_kind::backup_succeeded});
}

TEST_CASE("notifier bodies: each refusal names its field", "[api][notify]") {
  const std::string url = R"("url":"https://h.example.com/s3cr3t-path")";
  refused(R"([1])", "");
  refused(R"({"kind":"slack",)" + url + "}", "name");
  refused(R"({"name":"a",)" + url + "}", "kind");
  refused(R"({"name":"a","kind":"email",)" + url + "}", "kind");
  refused(R"({"name":"a","kind":"slack"})", "url");
  refused(R"({"name":"a","kind":"slack","url":"ftp://h/s3cr3t-path"})", "url");
  refused(R"({"name":"a","kind":"slack","url":"https://u:p@h/s3cr3t-path"})", "url");
  refused(R"({"name":"a","kind":"slack","url":7})", "url");
  refused(R"({"name":"a","kind":"slack",)" + url + R"(,"events":[]})", "events");
  refused(R"({"name":"a","kind":"slack",)" + url + R"(,"events":["backup.exploded"]})", "events");
  refused(R"({"name":"a","kind":"slack",)" + url + R"(,"events":["notifier.test"]})", "events");
  refused(R"({"name":"a","kind":"healthchecks",)" + url + R"(,"events":["app.unhealthy"]})",
          "events");
  refused(R"({"name":"a","kind":"slack",)" + url + R"(,"secret":"k"})", "secret");
  refused(R"({"name":"a","kind":"webhook",)" + url + R"(,"secret":""})", "secret");
  refused(R"({"name":"a","kind":"webhook",)" + url + R"(,"apps":["Bad App"]})", "apps");
  refused(R"({"name":"a","kind":"webhook",)" + url + R"(,"enabled":"yes"})", "enabled");
  refused(R"({"name":"a","kind":"webhook",)" + url + R"(,"colour":1})", "colour");
  refused(R"({"name":"A B","kind":"webhook",)" + url + "}", "name");
}

TEST_CASE("notifier patches: merge, null clears, name and kind stay", "[api][notify]") {
  auto n = *create(R"({"name":"ops","kind":"webhook","url":"https://h/x","secret":"k",
                       "apps":["a"]})");
  n.enabled = false;
  n.disabled_reason = "410";
  bool clear = false;
  auto p = apply_notifier_patch(n, boost::json::parse(R"({"apps":null,"secret":null,
                                                          "enabled":true})"),
                                clear);
  REQUIRE(p.has_value());
  CHECK(clear);
  CHECK(p->apps.empty());
  CHECK(p->enabled);
  CHECK(p->disabled_reason.empty());
  CHECK(p->url == n.url);
  for (const char* body : {R"({"name":"x"})", R"({"kind":"slack"})"}) {
    auto refused_patch = apply_notifier_patch(n, boost::json::parse(body), clear);
    REQUIRE_FALSE(refused_patch.has_value());
    CHECK(refused_patch.error().code == errc::immutable_field);
  }
  auto bad = apply_notifier_patch(n, boost::json::parse(R"({"events":["nope"]})"), clear);
  CHECK(bad.error().subject == "events");
}
