// The text-to-time parsers: RFC 3339 timestamps (API filters, stored rows), durations and byte
// sizes (flags, app fields) and both Retry-After forms. Whatever they accept formats back to
// the same instant, and no wait is negative or longer than the caps they document.
#include "fuzz_support.hpp"
#include "respaldo/config/config.hpp"
#include "respaldo/contract/deferred_poll.hpp"
#include "respaldo/core/time_format.hpp"
#include "respaldo/storage/drive/drive_upload.hpp"

using namespace respaldo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256) return 0;
  const auto text = fuzz::as_text(data, size);

  if (auto t = parse_rfc3339(text)) {
    auto again = parse_rfc3339(format_rfc3339_utc(*t));
    fuzz::require(again && *again == *t, "an RFC 3339 time formats back to itself", text);
  }
  if (auto d = parse_duration(text)) fuzz::require(d->count() >= 0, "durations are not negative");
  (void)parse_byte_size(text);

  using namespace std::chrono;
  const auto now = system_clock::time_point(seconds(1'750'000'000));
  if (auto wait = parse_retry_after(text, now))
    fuzz::require(*wait >= milliseconds(0) && *wait <= hours(24),
                  "a contract Retry-After waits between 0 and a day", text);
  if (auto wait = parse_retry_after(text))
    fuzz::require(wait->count() >= 0, "a Drive Retry-After is not negative", text);
  return 0;
}
