// Escaping of peer-supplied text: control characters and invalid UTF-8 become visible escapes,
// valid UTF-8 stays as it is, and excerpts are cut on whole characters.
#include "respaldo/core/text.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "respaldo/core/error.hpp"

using respaldo::escape_unprintable;
using respaldo::escaped_excerpt;
using respaldo::printable_excerpt;
using respaldo::utf8_sequence_at;

TEST_CASE("utf8_sequence_at accepts well-formed sequences only", "[text]") {
  using namespace std::string_literals;
  CHECK(utf8_sequence_at("a", 0) == 1);
  CHECK(utf8_sequence_at("\xc3\xb1", 0) == 2);          // ñ
  CHECK(utf8_sequence_at("\xe2\x82\xac", 0) == 3);      // €
  CHECK(utf8_sequence_at("\xf0\x9f\x98\x80", 0) == 4);  // U+1F600
  CHECK(utf8_sequence_at("\x80", 0) == 0);              // stray continuation byte
  CHECK(utf8_sequence_at("\xc0\xaf", 0) == 0);          // overlong '/'
  CHECK(utf8_sequence_at("\xe0\x80\xaf", 0) == 0);      // overlong, three bytes
  CHECK(utf8_sequence_at("\xed\xa0\x80", 0) == 0);      // surrogate U+D800
  CHECK(utf8_sequence_at("\xf4\x90\x80\x80", 0) == 0);  // above U+10FFFF
  CHECK(utf8_sequence_at("\xe2\x82", 0) == 0);          // cut short
  CHECK(utf8_sequence_at("\xff", 0) == 0);
  CHECK(utf8_sequence_at("x\xc3\xb1", 1) == 2);
}

TEST_CASE("escape_unprintable escapes control characters and invalid UTF-8", "[text]") {
  CHECK(escape_unprintable("\x1b[31m\rFAKE") == "\\x1b[31m\\rFAKE");
  CHECK(escape_unprintable("a\nb\tc") == "a\\nb\\tc");
  CHECK(escape_unprintable(std::string("nul\0end", 7)) == "nul\\x00end");
  CHECK(escape_unprintable("del\x7f") == "del\\x7f");
  CHECK(escape_unprintable("bad \xff\xc3(") == "bad \\xff\\xc3(");
  CHECK(escape_unprintable("ñandú €") == "ñandú €");
  // Without quote marks, backslashes and quotes stay; with them, they are escaped too.
  CHECK(escape_unprintable(R"(a\b"c)") == R"(a\b"c)");
  CHECK(escape_unprintable(R"(a\b"c)", true) == R"(a\\b\"c)");
}

TEST_CASE("escaped_excerpt escapes instead of blanking and cuts whole characters", "[text]") {
  CHECK(escaped_excerpt("\x1b[31m\rFAKE", 100) == "\\x1b[31m\\rFAKE");
  CHECK(escaped_excerpt("disk full\r\n", 100) == "disk full");
  CHECK(escaped_excerpt("caf\xc3\xa9 \xff", 100) == "caf\xc3\xa9 \\xff");
  // The cut falls after the 2-byte é, never inside it, and after a whole escape.
  CHECK(escaped_excerpt("caf\xc3\xa9s", 4) == "caf\xc3\xa9...");
  CHECK(escaped_excerpt("\x1b\x1b\x1b", 2) == "\\x1b...");
  CHECK(escaped_excerpt("short", 5) == "short");
  CHECK(escaped_excerpt("", 5).empty());
}

TEST_CASE("printable_excerpt blanks control characters and escapes invalid UTF-8", "[text]") {
  CHECK(printable_excerpt("Bad\nthing\x1b", 100) == "Bad thing");
  CHECK(printable_excerpt("caf\xc3\xa9 \xff", 100) == "caf\xc3\xa9 \\xff");
  CHECK(printable_excerpt("caf\xc3\xa9s", 4) == "caf\xc3\xa9...");
}
