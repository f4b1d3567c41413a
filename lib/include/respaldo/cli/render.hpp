// Reading the server's answers and printing them for people: fields, tables, sizes, and the
// error lines of refused or unreachable calls.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "respaldo/cli/transport.hpp"

namespace respaldo::cli {

std::optional<boost::json::object> parse_object(std::string_view body);

// Prints why a call did not succeed and returns the exit status (1).
int report_failure(const client_settings& s, const api_reply& r, std::ostream& err);

// The object of a successful answer; prints an error when it is not one.
std::optional<boost::json::object> expect_object(const client_settings& s, const api_reply& r,
                                                 std::ostream& err);

bool success(const api_reply& r);

// An answer taken for output: a failure is reported, --json prints the body as it came; only
// otherwise is there an object to render as text. `exit` is the status when there is none.
struct taken_answer {
  int exit = 0;
  std::optional<boost::json::object> object;
};
taken_answer take_answer(const client_settings& s, const api_reply& r, std::ostream& out,
                         std::ostream& err);

// A field for people: strings as they are, null or absent as "-".
std::string text(const boost::json::object& o, std::string_view key);
std::optional<std::uint64_t> number(const boost::json::object& o, std::string_view key);
const boost::json::object* object_field(const boost::json::object& o, std::string_view key);

std::string human_bytes(std::uint64_t n);
std::string progress(const boost::json::object& job);
std::string retention_text(const boost::json::object& app);
std::string error_text(const boost::json::object& job);

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);
void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& f);
void print_raw(std::ostream& out, const std::string& body);

}  // namespace respaldo::cli
