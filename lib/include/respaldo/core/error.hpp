// The project's error codes: expected failures travel as values (error_code / result<T>), and each
// code has a stable snake_case name that the REST API and the job records expose.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>

namespace respaldo {

enum class errc {
  // request and configuration problems
  invalid_argument = 1,
  not_found,
  conflict,
  // store
  store_error,
  store_not_a_database,
  store_schema_too_new,
  // app contract (the app-side exporter)
  app_unreachable,
  app_unauthorized,
  app_contract_violation,
  app_export_failed,
  app_timeout,
  // pipeline and jobs
  size_mismatch,
  checksum_mismatch,
  storage_error,
  storage_unavailable,
  interrupted,
  cancelled,
  timeout,
  job_deadline_exceeded,
  // Google Drive
  drive_auth_failed,
  drive_folder_not_found,
  drive_quota_exceeded,
  drive_upload_failed,
  drive_checksum_mismatch,
  drive_rate_limited,
  drive_session_expired,
  // generic network
  tls_error,
  http_protocol_error,
  // restore verification
  verify_mismatch,
  verify_missing,
  // request bodies (the problem+json `code` of a 422 or 409 naming a field)
  validation_failed,
  immutable_field,
  // command lines (the CLI exits 2 naming the option)
  unknown_option,
  missing_value,
  unexpected_value,
  repeated_option,
  // size bounds (neither is retried: the same export or the same disk fails again)
  backup_too_large,
  storage_full,
  // the agent (respaldo agent): its export endpoints and its spool
  export_in_progress,
  spool_full,
  export_command_failed,
  range_not_satisfiable,
  // live events and signed downloads (API problems)
  too_many_event_streams,
  events_unavailable,
  invalid_signature,
  link_expired,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// Stable machine-readable name of a code, e.g. "checksum_mismatch"; "internal_error" for codes
// of other categories.
std::string_view code_name(const boost::system::error_code& ec) noexcept;

// A failure with the human-readable detail that goes with it: the code is what programs switch
// on, the message is what an operator reads (it never holds secrets). `subject` names what the
// failure is about when a caller must point at it: a request field, a command-line option.
struct failure {
  boost::system::error_code code;
  std::string message;
  std::string subject = {};
};

// "code_name: message", for test reports and diagnostics (outcome<T> streams through it).
std::ostream& operator<<(std::ostream& os, const failure& f);

template <class T>
using outcome = boost::system::result<T, failure>;

// Lets outcome<T>::value() throw: reaching it means a caller skipped the error check.
[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location& loc);

// Text that came from a peer (an error body, a header), cut to about `limit` bytes (whole
// characters, then "..."), without trailing white space, with control characters replaced by
// spaces and invalid UTF-8 escaped (\xff), so it can go into a message or a log line.
std::string printable_excerpt(std::string_view text, std::size_t limit);

// The same, but control characters are escaped too (\x1b, \r, \n), for text whose exact bytes
// matter to the operator: what an app reports in a job error.
std::string escaped_excerpt(std::string_view text, std::size_t limit);

// Whether a failure may go away by itself (network, 5xx, timeouts), so a retry makes sense.
bool is_transient(const boost::system::error_code& ec) noexcept;

}  // namespace respaldo

template <>
struct boost::system::is_error_code_enum<respaldo::errc> : std::true_type {};
