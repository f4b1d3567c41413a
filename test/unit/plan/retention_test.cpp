#include "respaldo/plan/retention.hpp"

#include <date/date.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>

using respaldo::plan_retention;
using respaldo::retention_candidate;
using respaldo::retention_decision;
using respaldo::retention_policy;
using reasons = std::vector<std::string>;

namespace {

std::chrono::sys_seconds at(int y, unsigned m, unsigned d, int hour = 2, int minute = 0) {
  const date::sys_days day{date::year{y} / date::month{m} / date::day{d}};
  return std::chrono::sys_seconds{day} + std::chrono::hours{hour} + std::chrono::minutes{minute};
}

std::string day_id(std::chrono::sys_seconds t) {
  return date::format("%F", t);
}

// One successful backup a day at 02:00 UTC over [from, to], ids "YYYY-MM-DD".
std::vector<retention_candidate> daily_backups(date::sys_days from, date::sys_days to) {
  std::vector<retention_candidate> out;
  for (auto d = from; d <= to; d += date::days{1}) {
    const auto t = std::chrono::sys_seconds{d} + std::chrono::hours{2};
    out.push_back({day_id(t), t});
  }
  return out;
}

date::sys_days day(int y, unsigned m, unsigned d) {
  return date::sys_days{date::year{y} / date::month{m} / date::day{d}};
}

// id -> reasons of the kept backups.
std::map<std::string, reasons> kept(const std::vector<retention_decision>& plan) {
  std::map<std::string, reasons> out;
  for (const auto& d : plan) {
    if (d.keep) {
      out[d.id] = d.reasons;
    } else {
      CHECK(d.reasons.empty());
    }
  }
  return out;
}

const retention_decision& decision(const std::vector<retention_decision>& plan,
                                   const std::string& id) {
  const auto it = std::find_if(plan.begin(), plan.end(), [&](const auto& d) { return d.id == id; });
  REQUIRE(it != plan.end());
  return *it;
}

retention_policy policy(std::string_view json) {
  const auto p = respaldo::parse_retention_policy(boost::json::parse(json));
  REQUIRE(p.has_value());
  return *p;
}

std::string policy_error(std::string_view json) {
  const auto p = respaldo::parse_retention_policy(boost::json::parse(json));
  REQUIRE(p.has_error());
  CHECK(p.error().code == respaldo::errc::invalid_argument);
  return p.error().message;
}

}  // namespace

TEST_CASE("issue example: daily 7, weekly 4 over half a year keeps 9", "[retention]") {
  const auto backups = daily_backups(day(2025, 1, 1), day(2025, 6, 18));
  REQUIRE(backups.size() == 169);
  const auto plan = plan_retention(backups, policy(R"({"daily":7,"weekly":4})"), nullptr);
  REQUIRE(plan.size() == backups.size());
  const std::map<std::string, reasons> expected{
      {"2025-06-18", {"newest", "daily 2025-06-18", "weekly 2025-W25"}},
      {"2025-06-17", {"daily 2025-06-17"}},
      {"2025-06-16", {"daily 2025-06-16"}},
      {"2025-06-15", {"daily 2025-06-15", "weekly 2025-W24"}},
      {"2025-06-14", {"daily 2025-06-14"}},
      {"2025-06-13", {"daily 2025-06-13"}},
      {"2025-06-12", {"daily 2025-06-12"}},
      {"2025-06-08", {"weekly 2025-W23"}},
      {"2025-06-01", {"weekly 2025-W22"}},
  };
  CHECK(kept(plan) == expected);

  SECTION("decisions follow the input order, whatever it is") {
    auto shuffled = backups;
    std::mt19937 rng(42);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const auto plan2 = plan_retention(shuffled, policy(R"({"daily":7,"weekly":4})"), nullptr);
    REQUIRE(plan2.size() == shuffled.size());
    for (std::size_t i = 0; i < shuffled.size(); ++i) {
      CHECK(plan2[i].id == shuffled[i].id);
      CHECK(plan2[i].created_at == shuffled[i].created_at);
    }
    CHECK(kept(plan2) == expected);
  }
}

TEST_CASE("days without backups do not erase history", "[retention]") {
  SECTION("missing days: buckets are counted over existing backups, not from now") {
    auto backups = daily_backups(day(2025, 6, 1), day(2025, 6, 5));
    backups.push_back({"2025-06-18", at(2025, 6, 18)});
    const auto plan = plan_retention(backups, policy(R"({"daily":3})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-06-18", {"newest", "daily 2025-06-18"}},
                            {"2025-06-05", {"daily 2025-06-05"}},
                            {"2025-06-04", {"daily 2025-06-04"}},
                        });
  }
  SECTION("days with only failed backups count for nothing, failed backups go") {
    auto backups = daily_backups(day(2025, 6, 1), day(2025, 6, 18));
    for (auto& b : backups)
      if (b.id >= "2025-06-10" && b.id <= "2025-06-17") b.successful = false;
    const auto plan = plan_retention(backups, policy(R"({"daily":3})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-06-18", {"newest", "daily 2025-06-18"}},
                            {"2025-06-09", {"daily 2025-06-09"}},
                            {"2025-06-08", {"daily 2025-06-08"}},
                        });
    CHECK_FALSE(decision(plan, "2025-06-17").keep);
    CHECK_FALSE(decision(plan, "2025-06-10").keep);
  }
  SECTION("a long gap keeps the weeks before it") {
    std::vector<retention_candidate> backups{{"old-1", at(2024, 11, 4)},
                                             {"old-2", at(2024, 11, 12)},
                                             {"old-3", at(2024, 11, 20)},
                                             {"new", at(2025, 6, 18)}};
    const auto plan = plan_retention(backups, policy(R"({"weekly":3})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"new", {"newest", "weekly 2025-W25"}},
                            {"old-3", {"weekly 2024-W47"}},
                            {"old-2", {"weekly 2024-W46"}},
                        });
  }
}

TEST_CASE("several backups in one day: the newest of the day is kept", "[retention]") {
  std::vector<retention_candidate> backups{
      {"17-02", at(2025, 6, 17, 2)}, {"17-14", at(2025, 6, 17, 14)},
      {"17-08", at(2025, 6, 17, 8)}, {"18-08", at(2025, 6, 18, 8)},
      {"18-02", at(2025, 6, 18, 2)}, {"16-23", at(2025, 6, 16, 23, 59)},
  };
  const auto plan = plan_retention(backups, policy(R"({"daily":2})"), nullptr);
  CHECK(kept(plan) == std::map<std::string, reasons>{
                          {"18-08", {"newest", "daily 2025-06-18"}},
                          {"17-14", {"daily 2025-06-17"}},
                      });

  SECTION("a failed later backup does not take the day from a successful one") {
    backups.push_back({"17-20-failed", at(2025, 6, 17, 20), false});
    const auto plan2 = plan_retention(backups, policy(R"({"daily":2})"), nullptr);
    CHECK(decision(plan2, "17-14").reasons == reasons{"daily 2025-06-17"});
    CHECK_FALSE(decision(plan2, "17-20-failed").keep);
  }
}

TEST_CASE("equal timestamps are ordered by id, whatever the input order", "[retention]") {
  const auto t = at(2025, 6, 18);
  for (bool reversed : {false, true}) {
    std::vector<retention_candidate> backups{{"a", t}, {"b", t}, {"c", at(2025, 6, 17)}};
    if (reversed) std::reverse(backups.begin(), backups.end());
    const auto plan = plan_retention(backups, policy(R"({"daily":2})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"b", {"newest", "daily 2025-06-18"}},
                            {"c", {"daily 2025-06-17"}},
                        });
  }
}

TEST_CASE("ISO weeks across New Year", "[retention]") {
  SECTION("2024-12-30 is in 2025-W01, 2024-12-29 in 2024-W52") {
    std::vector<retention_candidate> backups{
        {"2024-12-29", at(2024, 12, 29)},  // Sunday
        {"2024-12-30", at(2024, 12, 30)},  // Monday of 2025-W01
        {"2025-01-01", at(2025, 1, 1)},
        {"2025-01-06", at(2025, 1, 6)},  // Monday of 2025-W02
    };
    const auto plan = plan_retention(backups, policy(R"({"weekly":3})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-01-06", {"newest", "weekly 2025-W02"}},
                            {"2025-01-01", {"weekly 2025-W01"}},
                            {"2024-12-29", {"weekly 2024-W52"}},
                        });
  }
  SECTION("2021-01-03 is in 2020-W53 while its year bucket is 2021") {
    std::vector<retention_candidate> backups{
        {"2020-12-28", at(2020, 12, 28)},
        {"2021-01-03", at(2021, 1, 3)},
        {"2021-01-04", at(2021, 1, 4)},
    };
    const auto plan = plan_retention(backups, policy(R"({"weekly":2,"yearly":2})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2021-01-04", {"newest", "weekly 2021-W01", "yearly 2021"}},
                            {"2021-01-03", {"weekly 2020-W53"}},
                            {"2020-12-28", {"yearly 2020"}},
                        });
  }
}

TEST_CASE("last alone keeps the N newest successful backups", "[retention]") {
  auto backups = daily_backups(day(2025, 6, 1), day(2025, 6, 5));
  SECTION("fewer than available") {
    const auto plan = plan_retention(backups, policy(R"({"last":3})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-06-05", {"newest", "last 1"}},
                            {"2025-06-04", {"last 2"}},
                            {"2025-06-03", {"last 3"}},
                        });
  }
  SECTION("more than available keeps all") {
    const auto plan = plan_retention(backups, policy(R"({"last":10})"), nullptr);
    CHECK(kept(plan).size() == 5);
  }
  SECTION("failed backups are not counted") {
    backups[3].successful = false;  // 2025-06-04
    const auto plan = plan_retention(backups, policy(R"({"last":2})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-06-05", {"newest", "last 1"}},
                            {"2025-06-03", {"last 2"}},
                        });
  }
  SECTION("several backups a day each count") {
    backups.push_back({"2025-06-05-late", at(2025, 6, 5, 20)});
    const auto plan = plan_retention(backups, policy(R"({"last":2})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-06-05-late", {"newest", "last 1"}},
                            {"2025-06-05", {"last 2"}},
                        });
  }
}

TEST_CASE("a policy of one rule", "[retention]") {
  SECTION("daily 1 keeps only the newest") {
    const auto backups = daily_backups(day(2025, 6, 1), day(2025, 6, 18));
    const auto plan = plan_retention(backups, policy(R"({"daily":1})"), nullptr);
    CHECK(kept(plan) ==
          std::map<std::string, reasons>{{"2025-06-18", {"newest", "daily 2025-06-18"}}});
  }
  SECTION("monthly") {
    const auto backups = daily_backups(day(2025, 1, 1), day(2025, 3, 10));
    const auto plan = plan_retention(backups, policy(R"({"monthly":2})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-03-10", {"newest", "monthly 2025-03"}},
                            {"2025-02-28", {"monthly 2025-02"}},
                        });
    const auto plan12 = plan_retention(backups, policy(R"({"monthly":12})"), nullptr);
    CHECK(kept(plan12) == std::map<std::string, reasons>{
                              {"2025-03-10", {"newest", "monthly 2025-03"}},
                              {"2025-02-28", {"monthly 2025-02"}},
                              {"2025-01-31", {"monthly 2025-01"}},
                          });
  }
  SECTION("yearly") {
    std::vector<retention_candidate> backups{
        {"2023-06-01", at(2023, 6, 1)},
        {"2023-12-31", at(2023, 12, 31, 23, 59)},
        {"2024-03-01", at(2024, 3, 1)},
        {"2025-01-01", at(2025, 1, 1, 0, 0)},
    };
    CHECK(kept(plan_retention(backups, policy(R"({"yearly":2})"), nullptr)) ==
          std::map<std::string, reasons>{
              {"2025-01-01", {"newest", "yearly 2025"}},
              {"2024-03-01", {"yearly 2024"}},
          });
    CHECK(kept(plan_retention(backups, policy(R"({"yearly":5})"), nullptr)) ==
          std::map<std::string, reasons>{
              {"2025-01-01", {"newest", "yearly 2025"}},
              {"2024-03-01", {"yearly 2024"}},
              {"2023-12-31", {"yearly 2023"}},
          });
  }
  SECTION("rules are ORed and their reasons listed in rule order") {
    const auto backups = daily_backups(day(2024, 12, 1), day(2025, 1, 31));
    const auto plan = plan_retention(
        backups, policy(R"({"yearly":2,"monthly":2,"weekly":1,"daily":2,"last":1})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"2025-01-31",
                             {"newest", "last 1", "daily 2025-01-31", "weekly 2025-W05",
                              "monthly 2025-01", "yearly 2025"}},
                            {"2025-01-30", {"daily 2025-01-30"}},
                            {"2024-12-31", {"monthly 2024-12", "yearly 2024"}},
                        });
  }
}

TEST_CASE("the time zone decides the buckets", "[retention]") {
  const auto* berlin = date::locate_zone("Europe/Berlin");
  SECTION("23:30 UTC is the next day in Berlin") {
    std::vector<retention_candidate> backups{
        {"15 12:00Z", at(2025, 6, 15, 12)},
        {"16 23:30Z", at(2025, 6, 16, 23, 30)},  // 2025-06-17 01:30 in Berlin
        {"17 02:00Z", at(2025, 6, 17, 2)},
    };
    const auto p = policy(R"({"daily":2})");
    CHECK(kept(plan_retention(backups, p, nullptr)) ==
          std::map<std::string, reasons>{
              {"17 02:00Z", {"newest", "daily 2025-06-17"}},
              {"16 23:30Z", {"daily 2025-06-16"}},
          });
    CHECK(kept(plan_retention(backups, p, berlin)) ==
          std::map<std::string, reasons>{
              {"17 02:00Z", {"newest", "daily 2025-06-17"}},
              {"15 12:00Z", {"daily 2025-06-15"}},
          });
    CHECK(kept(plan_retention(backups, p, date::locate_zone("UTC"))) ==
          kept(plan_retention(backups, p, nullptr)));
  }
  SECTION("Sunday 23:30 UTC is Monday of the next ISO week in Berlin") {
    std::vector<retention_candidate> backups{
        {"sun", at(2025, 6, 15, 23, 30)},  // Monday 2025-06-16 01:30 in Berlin
        {"sat", at(2025, 6, 14, 12)},
        {"tue", at(2025, 6, 17, 2)},
    };
    const auto p = policy(R"({"weekly":2})");
    CHECK(kept(plan_retention(backups, p, nullptr)) == std::map<std::string, reasons>{
                                                           {"tue", {"newest", "weekly 2025-W25"}},
                                                           {"sun", {"weekly 2025-W24"}},
                                                       });
    CHECK(kept(plan_retention(backups, p, berlin)) == std::map<std::string, reasons>{
                                                          {"tue", {"newest", "weekly 2025-W25"}},
                                                          {"sat", {"weekly 2025-W24"}},
                                                      });
  }
  SECTION("west of UTC: 02:00 UTC is the previous evening in New York, and the previous year") {
    std::vector<retention_candidate> backups{
        {"2024-12-31", at(2024, 12, 31, 12)},
        {"2025-01-01 02:00Z", at(2025, 1, 1, 2)},  // 2024-12-31 21:00 in New York
    };
    const auto p = policy(R"({"yearly":2})");
    CHECK(kept(plan_retention(backups, p, nullptr)).size() == 2);
    CHECK(kept(plan_retention(backups, p, date::locate_zone("America/New_York"))) ==
          std::map<std::string, reasons>{{"2025-01-01 02:00Z", {"newest", "yearly 2024"}}});
  }
}

TEST_CASE("protected backups are never deleted", "[retention]") {
  const auto p = policy(R"({"last":1})");
  SECTION("the newest successful backup, even when no rule keeps it") {
    const std::vector<retention_candidate> backups{{"a", at(2025, 6, 1)}, {"b", at(2025, 6, 2)}};
    const auto plan = plan_retention(backups, policy(R"({"yearly":1})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{{"b", {"newest", "yearly 2025"}}});
    // A rule with nothing to keep still leaves the newest.
    const auto plan0 = plan_retention(backups, retention_policy{}, nullptr);
    CHECK(kept(plan0) == std::map<std::string, reasons>{{"b", {"newest"}}});
  }
  SECTION("backups not created by respaldo, which also take no bucket") {
    std::vector<retention_candidate> backups{
        {"foreign-old", at(2020, 1, 1), true, false},
        {"foreign-failed", at(2021, 1, 1), false, false},
        {"ours", at(2025, 6, 17)},
        {"foreign-new", at(2025, 6, 18), true, false},
    };
    const auto plan = plan_retention(backups, policy(R"({"daily":1})"), nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"foreign-old", {"not-created-by-respaldo"}},
                            {"foreign-failed", {"not-created-by-respaldo"}},
                            {"ours", {"newest", "daily 2025-06-17"}},
                            {"foreign-new", {"not-created-by-respaldo"}},
                        });
  }
  SECTION("failed backups newer than the newest successful one stay, older ones go") {
    std::vector<retention_candidate> backups{
        {"failed-old", at(2025, 6, 15), false},
        {"ok-1", at(2025, 6, 16)},
        {"ok-2", at(2025, 6, 17)},
        {"failed-new", at(2025, 6, 18), false},
        {"running", at(2025, 6, 18, 3), false},
    };
    const auto plan = plan_retention(backups, p, nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"ok-2", {"newest", "last 1"}},
                            {"failed-new", {"newer-than-newest-successful"}},
                            {"running", {"newer-than-newest-successful"}},
                        });
    CHECK_FALSE(decision(plan, "failed-old").keep);
    CHECK_FALSE(decision(plan, "ok-1").keep);
  }
  SECTION("nothing of ours is deleted before a first success") {
    std::vector<retention_candidate> backups{
        {"f1", at(2025, 6, 16), false},
        {"f2", at(2025, 6, 17), false},
        {"x", at(2025, 6, 1), true, false},
    };
    const auto plan = plan_retention(backups, p, nullptr);
    CHECK(kept(plan) == std::map<std::string, reasons>{
                            {"f1", {"no-successful-backup"}},
                            {"f2", {"no-successful-backup"}},
                            {"x", {"not-created-by-respaldo"}},
                        });
  }
  SECTION("no candidates, no decisions") {
    CHECK(plan_retention({}, p, nullptr).empty());
  }
}

TEST_CASE("retention policy parsing", "[retention]") {
  SECTION("valid policies") {
    const auto p = policy(R"({"daily":7,"weekly":4})");
    CHECK(p == retention_policy{0, 7, 4, 0, 0});
    CHECK(policy(R"({"last":1,"daily":0,"weekly":2,"monthly":3,"yearly":10000})") ==
          retention_policy{1, 0, 2, 3, 10000});
    CHECK(policy(R"({"monthly":1})") == retention_policy{0, 0, 0, 1, 0});
  }
  SECTION("to_json lists the rules above 0 and reads back") {
    const retention_policy p{2, 7, 4, 0, 1};
    const auto o = respaldo::to_json(p);
    CHECK(o == boost::json::parse(R"({"last":2,"daily":7,"weekly":4,"yearly":1})").as_object());
    CHECK(policy(boost::json::serialize(o)) == p);
  }
  SECTION("negative") {
    const auto e = policy_error(R"({"daily":-1})");
    CHECK(e == "retention policy: \"daily\" must be an integer from 0 to 10000, got -1");
  }
  SECTION("above 10000") {
    CHECK(policy_error(R"({"weekly":10001})") ==
          "retention policy: \"weekly\" must be an integer from 0 to 10000, got 10001");
    CHECK(policy_error(R"({"yearly":18446744073709551615})") ==
          "retention policy: \"yearly\" must be an integer from 0 to 10000, got "
          "18446744073709551615");
  }
  SECTION("wrong types") {
    CHECK(policy_error(R"({"daily":"7"})") ==
          "retention policy: \"daily\" must be an integer from 0 to 10000, got \"7\"");
    CHECK(policy_error(R"({"monthly":1.5})") ==
          "retention policy: \"monthly\" must be an integer from 0 to 10000, got 1.5E0");
    CHECK_THAT(policy_error(R"({"last":null})"),
               Catch::Contains("\"last\" must be an integer") && Catch::EndsWith("got null"));
    CHECK_THAT(policy_error(R"({"last":true})"), Catch::EndsWith("got true"));
    CHECK_THAT(policy_error(R"({"daily":[7]})"), Catch::EndsWith("got [7]"));
  }
  SECTION("unknown key") {
    CHECK(policy_error(R"({"daily":7,"hourly":24})") ==
          "retention policy: unknown rule \"hourly\" (expected one of last, daily, weekly, "
          "monthly, yearly)");
  }
  SECTION("all zero or empty") {
    const std::string expected =
        "retention policy: expected at least one of last, daily, weekly, monthly, yearly above 0";
    CHECK(policy_error(R"({"daily":0,"weekly":0})") == expected);
    CHECK(policy_error("{}") == expected);
  }
  SECTION("not an object") {
    CHECK_THAT(policy_error("[7]"), Catch::StartsWith("retention policy: expected a JSON object") &&
                                        Catch::EndsWith("got [7]"));
    CHECK_THAT(policy_error("7"), Catch::EndsWith("got 7"));
  }
}
