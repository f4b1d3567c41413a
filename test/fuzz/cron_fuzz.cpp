// The cron parser and the next-fire search: any expression either parses or fails with a clean
// message; a parsed one fires strictly later than asked, never fires when can_fire() says so,
// and the search stays bounded in every time zone.
#include <array>

#include "fuzz_support.hpp"
#include "respaldo/plan/cron.hpp"

using namespace respaldo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 512) return 0;
  auto parts = fuzz::split(fuzz::as_text(data, size), '|', 2);
  auto schedule = cron_schedule::parse(parts[0]);
  if (!schedule) {
    fuzz::check_failure(schedule.error());
    return 0;
  }
  auto again = cron_schedule::parse(schedule->expression());
  fuzz::require(again.has_value(), "the kept expression parses again", schedule->expression());

  static const std::array<const date::time_zone*, 3> zones = {
      nullptr, find_time_zone("Europe/Madrid"), find_time_zone("Australia/Lord_Howe")};
  // The start instant comes from the second part, so the fuzzer explores DST edges too.
  std::int64_t seconds = 1'700'000'000;
  if (parts.size() > 1)
    for (unsigned char c : parts[1]) seconds = seconds * 31 + c;
  seconds %= 253'402'300'799;  // up to year 9999
  if (seconds < 0) seconds = -seconds;
  const sys_seconds after{std::chrono::seconds(seconds)};
  for (const auto* tz : zones) {
    auto next = schedule->next_after(after, tz);
    if (!schedule->can_fire())
      fuzz::require(!next, "a schedule that cannot fire has no next time", schedule->expression());
    if (next) {
      fuzz::require(*next > after, "the next fire time is after the start");
      fuzz::require(next->time_since_epoch().count() % 60 == 0, "fire times are whole minutes");
    }
  }
  return 0;
}
