// The text log format escapes what a client or an app could use to forge lines or drive the
// operator's terminal; the JSON format keeps JSON escaping and valid UTF-8.
#include "respaldo/core/log.hpp"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "respaldo/core/text.hpp"

namespace {

std::string one_line(respaldo::log_format format, std::string_view message, std::string value) {
  std::ostringstream out;
  respaldo::logger log(format, &out);
  log.info(message, {{"path", value}, {"n", 3}});
  return out.str();
}

bool has_raw_control(const std::string& line) {
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {  // the final '\n' ends the line
    const auto u = static_cast<unsigned char>(line[i]);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("text log values escape control characters and invalid UTF-8", "[log]") {
  using respaldo::log_format;
  const auto line = one_line(log_format::text, "request", "/\x1b[31m\rFAKE");
  CHECK_FALSE(has_raw_control(line));
  CHECK(line.find("path=\"/\\x1b[31m\\rFAKE\" n=3\n") != std::string::npos);

  const auto bad_utf8 = one_line(log_format::text, "request", "/caf\xc3\xa9\xff");
  CHECK(bad_utf8.find("path=\"/caf\xc3\xa9\\xff\"") != std::string::npos);

  const auto newline = one_line(log_format::text, "request", "a\nlevel=error msg=forged");
  CHECK_FALSE(has_raw_control(newline));
  CHECK(newline.find(R"(path="a\nlevel=error msg=forged")") != std::string::npos);

  // Plain values stay unquoted, quoted ones keep their quotes and backslashes readable.
  CHECK(one_line(log_format::text, "m", "/api/apps").find(" path=/api/apps ") != std::string::npos);
  CHECK(one_line(log_format::text, "m", R"(say "hi" \o/)").find(R"(path="say \"hi\" \\o/")") !=
        std::string::npos);
  CHECK(one_line(log_format::text, "m", "").find(" path=\"\" ") != std::string::npos);
}

TEST_CASE("text log messages escape control characters too", "[log]") {
  const auto line = one_line(respaldo::log_format::text, "bad\rmessage\x1b", "x");
  CHECK_FALSE(has_raw_control(line));
  CHECK(line.find(" bad\\rmessage\\x1b path=x") != std::string::npos);
}

TEST_CASE("json log lines keep JSON escaping", "[log]") {
  const auto line = one_line(respaldo::log_format::json, "request", "/\x1b\r");
  CHECK_FALSE(has_raw_control(line));
  CHECK(line.find(R"("path":"/\u001b\r")") != std::string::npos);
}

TEST_CASE("json log lines stay valid UTF-8 when a value is not", "[log]") {
  // A lone continuation byte and a cut-short sequence, as a hostile request target may carry.
  const auto line = one_line(respaldo::log_format::json, "request", "/a\x80z\xe2\x82");
  CHECK(line.find("\"path\":\"/a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\"") != std::string::npos);
  for (std::size_t i = 0; i < line.size();) {
    const auto len = respaldo::utf8_sequence_at(line, i);
    REQUIRE(len > 0);
    i += len;
  }
}
