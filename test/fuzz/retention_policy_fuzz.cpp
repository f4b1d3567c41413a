// The retention policy parser and the plan: any JSON either parses into a policy that reads back
// to itself or fails cleanly; every plan decides once per candidate, keeps the newest successful
// backup and never deletes one respaldo did not create.
#include <boost/json/parse.hpp>

#include "fuzz_support.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/plan/retention.hpp"

using namespace respaldo;

namespace {

std::vector<retention_candidate> candidates_from(std::string_view bytes) {
  std::vector<retention_candidate> out;
  std::int64_t t = 1'600'000'000;
  for (std::size_t i = 0; i + 1 < bytes.size() && out.size() < 200; i += 2) {
    const auto step = static_cast<unsigned char>(bytes[i]);
    const auto flags = static_cast<unsigned char>(bytes[i + 1]);
    t += static_cast<std::int64_t>(step) * 3571;  // spans hours to weeks between backups
    retention_candidate c;
    c.id = "b" + std::to_string(out.size());
    c.created_at = sys_seconds{std::chrono::seconds(t)};
    c.successful = (flags & 1) == 0;
    c.created_by_respaldo = (flags & 2) == 0;
    out.push_back(std::move(c));
  }
  return out;
}

void check_plan(const std::vector<retention_candidate>& cs, const retention_policy& policy) {
  static const auto* zone = find_time_zone("America/Santiago");
  for (const auto* tz : {static_cast<const date::time_zone*>(nullptr), zone}) {
    auto plan = plan_retention(cs, policy, tz);
    fuzz::require(plan.size() == cs.size(), "one decision per candidate");
    const retention_candidate* newest = nullptr;
    for (const auto& c : cs)
      if (c.successful && (!newest || c.created_at > newest->created_at)) newest = &c;
    for (std::size_t i = 0; i < cs.size(); ++i) {
      fuzz::require(plan[i].id == cs[i].id, "decisions keep the candidates' order");
      if (!cs[i].created_by_respaldo) fuzz::require(plan[i].keep, "foreign objects are kept");
      if (newest && cs[i].id == newest->id)
        fuzz::require(plan[i].keep, "the newest successful backup is kept");
      if (plan[i].keep) fuzz::require(!plan[i].reasons.empty(), "a kept backup says why");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  auto parts = fuzz::split(fuzz::as_text(data, size), '\n', 2);
  boost::system::error_code ec;
  auto json = boost::json::parse(parts[0], ec);
  if (ec) return 0;
  auto policy = parse_retention_policy(json);
  if (!policy) {
    fuzz::check_failure(policy.error());
    return 0;
  }
  auto back = parse_retention_policy(boost::json::value(to_json(*policy)));
  fuzz::require(back && *back == *policy, "a policy reads back to itself");
  if (parts.size() > 1) check_plan(candidates_from(parts[1]), *policy);
  return 0;
}
