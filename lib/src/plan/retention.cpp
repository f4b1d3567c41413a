#include "respaldo/plan/retention.hpp"

#include <date/date.h>
#include <date/iso_week.h>
#include <date/tz.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <numeric>
#include <optional>
#include <set>
#include <string_view>

#include "respaldo/core/error.hpp"

namespace respaldo {
namespace {

constexpr std::string_view policy_fields = "last, daily, weekly, monthly, yearly";

int* policy_field(retention_policy& p, std::string_view name) {
  if (name == "last") return &p.last;
  if (name == "daily") return &p.daily;
  if (name == "weekly") return &p.weekly;
  if (name == "monthly") return &p.monthly;
  if (name == "yearly") return &p.yearly;
  return nullptr;
}

// A short JSON rendering of an offending value for error messages.
// JSON leaves DEL and invalid UTF-8 as they are; the excerpt escapes them and cuts whole
// characters.
std::string describe(const boost::json::value& v) {
  return escaped_excerpt(boost::json::serialize(v), 40);
}

struct bucket_keys {
  std::string day, week, month, year;
};

bucket_keys buckets_of(std::chrono::sys_seconds t, const date::time_zone* tz) {
  const date::local_seconds local =
      tz ? tz->to_local(t) : date::local_seconds{t.time_since_epoch()};
  const date::local_days ld = date::floor<date::days>(local);
  const date::year_month_day ymd{ld};
  const iso_week::year_weeknum_weekday iw{ld};
  const int y = static_cast<int>(ymd.year());
  const unsigned m = static_cast<unsigned>(ymd.month());
  const unsigned d = static_cast<unsigned>(ymd.day());
  char buf[32];
  bucket_keys k;
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  k.day = buf;
  std::snprintf(buf, sizeof buf, "%04d-W%02u", static_cast<int>(iw.year()),
                static_cast<unsigned>(iw.weeknum()));
  k.week = buf;
  std::snprintf(buf, sizeof buf, "%04d-%02u", y, m);
  k.month = buf;
  std::snprintf(buf, sizeof buf, "%04d", y);
  k.year = buf;
  return k;
}

}  // namespace

outcome<retention_policy> parse_retention_policy(const boost::json::value& v) {
  const auto invalid = [](std::string message) {
    return failure{errc::invalid_argument, std::move(message)};
  };
  const auto* obj = v.if_object();
  if (!obj)
    return invalid(
        "retention policy: expected a JSON object such as {\"daily\":7,\"weekly\":4}, got " +
        describe(v));
  retention_policy p;
  for (const auto& [key, value] : *obj) {
    int* field = policy_field(p, key);
    if (!field)
      return invalid("retention policy: unknown rule " + describe(boost::json::value(key)) +
                     " (expected one of " + std::string(policy_fields) + ")");
    const std::string expected = "retention policy: \"" + std::string(key) +
                                 "\" must be an integer from 0 to " +
                                 std::to_string(max_retention_count) + ", got " + describe(value);
    // Values above INT64_MAX arrive as uint64 and are out of range like any other.
    if (!value.is_int64() || value.get_int64() < 0 || value.get_int64() > max_retention_count)
      return invalid(expected);
    *field = static_cast<int>(value.get_int64());
  }
  if (p.last <= 0 && p.daily <= 0 && p.weekly <= 0 && p.monthly <= 0 && p.yearly <= 0)
    return invalid("retention policy: expected at least one of " + std::string(policy_fields) +
                   " above 0");
  return p;
}

boost::json::object to_json(const retention_policy& p) {
  boost::json::object o;
  if (p.last > 0) o["last"] = p.last;
  if (p.daily > 0) o["daily"] = p.daily;
  if (p.weekly > 0) o["weekly"] = p.weekly;
  if (p.monthly > 0) o["monthly"] = p.monthly;
  if (p.yearly > 0) o["yearly"] = p.yearly;
  return o;
}

std::vector<retention_decision> plan_retention(const std::vector<retention_candidate>& candidates,
                                               const retention_policy& policy,
                                               const date::time_zone* tz) {
  const std::size_t n = candidates.size();
  std::vector<retention_decision> decisions(n);
  for (std::size_t i = 0; i < n; ++i) {
    decisions[i].id = candidates[i].id;
    decisions[i].created_at = candidates[i].created_at;
  }

  // Oldest first; the input position breaks exact ties so the plan never depends on sort details.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& ca = candidates[a];
    const auto& cb = candidates[b];
    if (ca.created_at != cb.created_at) return ca.created_at < cb.created_at;
    if (ca.id != cb.id) return ca.id < cb.id;
    return a < b;
  });
  std::vector<std::size_t> rank(n);
  for (std::size_t r = 0; r < n; ++r) rank[order[r]] = r;

  auto counts = [&](std::size_t i) {
    return candidates[i].successful && candidates[i].created_by_respaldo;
  };
  // Newest first: the backups the rules choose from.
  std::vector<std::size_t> eligible;
  for (auto it = order.rbegin(); it != order.rend(); ++it)
    if (counts(*it)) eligible.push_back(*it);
  const bool any_success = !eligible.empty();
  const std::size_t newest = any_success ? eligible.front() : 0;

  for (std::size_t i = 0; i < n; ++i) {
    auto& reasons = decisions[i].reasons;
    if (!candidates[i].created_by_respaldo)
      reasons.emplace_back("not-created-by-respaldo");
    else if (!any_success)
      reasons.emplace_back("no-successful-backup");
    else if (i == newest)
      reasons.emplace_back("newest");
    else if (rank[i] > rank[newest])
      reasons.emplace_back("newer-than-newest-successful");
  }

  const std::size_t last = static_cast<std::size_t>(std::max(policy.last, 0));
  for (std::size_t j = 0; j < eligible.size() && j < last; ++j)
    decisions[eligible[j]].reasons.push_back("last " + std::to_string(j + 1));

  std::vector<bucket_keys> keys(n);
  for (std::size_t i : eligible) keys[i] = buckets_of(candidates[i].created_at, tz);

  struct rule {
    const char* name;
    int count;
    std::string bucket_keys::*key;
  };
  const rule rules[] = {{"daily", policy.daily, &bucket_keys::day},
                        {"weekly", policy.weekly, &bucket_keys::week},
                        {"monthly", policy.monthly, &bucket_keys::month},
                        {"yearly", policy.yearly, &bucket_keys::year}};
  for (const auto& r : rules) {
    if (r.count <= 0) continue;
    // Walking newest first, the first backup met in a bucket is that bucket's newest. Keys are not
    // assumed monotonic: a zone going back across midnight can put a later instant on an earlier
    // day.
    std::set<std::string> seen;
    for (std::size_t i : eligible) {
      const std::string& key = keys[i].*r.key;
      if (!seen.insert(key).second) continue;
      if (seen.size() > static_cast<std::size_t>(r.count)) break;
      decisions[i].reasons.push_back(std::string(r.name) + " " + key);
    }
  }

  for (auto& d : decisions) d.keep = !d.reasons.empty();
  return decisions;
}

}  // namespace respaldo
