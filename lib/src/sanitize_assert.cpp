// Boost's assertion handler in sanitizer builds (BOOST_ENABLE_ASSERT_HANDLER): every failed
// assertion aborts with its place, except one Beast 1.81 makes wrongly.
#include <boost/assert.hpp>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

// basic_parser::parse_chunk_header asserts `n >= 5` when it re-enters after the last chunk's size
// line, but "0\r\n" followed by a single "\r" in the next read reaches it with n == 4 on valid
// input; it then asks for more bytes, as it should, so the assertion is the mistake.
bool known_false_alarm(std::string_view expr, std::string_view file) {
  return expr == "n >= 5" && file.ends_with("boost/beast/http/impl/basic_parser.ipp");
}

[[noreturn]] void fail(const char* expr, const char* msg, const char* function, const char* file,
                       long line) {
  std::fprintf(stderr, "%s:%ld: %s: assertion `%s' failed%s%s\n", file, line, function, expr,
               msg ? ": " : "", msg ? msg : "");
  std::abort();
}

}  // namespace

namespace boost {

void assertion_failed(const char* expr, const char* function, const char* file, long line) {
  if (known_false_alarm(expr, file)) return;
  fail(expr, nullptr, function, file, line);
}

void assertion_failed_msg(const char* expr, const char* msg, const char* function, const char* file,
                          long line) {
  if (known_false_alarm(expr, file)) return;
  fail(expr, msg, function, file, line);
}

}  // namespace boost
