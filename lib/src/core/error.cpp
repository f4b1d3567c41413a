#include "respaldo/core/error.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>
#include <ostream>
#include <string>

#include "respaldo/core/text.hpp"

namespace respaldo {
namespace {

constexpr std::string_view name_of(errc e) noexcept {
  switch (e) {
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::not_found:
      return "not_found";
    case errc::conflict:
      return "conflict";
    case errc::store_error:
      return "store_error";
    case errc::store_not_a_database:
      return "store_not_a_database";
    case errc::store_schema_too_new:
      return "store_schema_too_new";
    case errc::app_unreachable:
      return "app_unreachable";
    case errc::app_unauthorized:
      return "app_unauthorized";
    case errc::app_contract_violation:
      return "app_contract_violation";
    case errc::app_export_failed:
      return "app_export_failed";
    case errc::app_timeout:
      return "app_timeout";
    case errc::size_mismatch:
      return "size_mismatch";
    case errc::checksum_mismatch:
      return "checksum_mismatch";
    case errc::storage_error:
      return "storage_error";
    case errc::storage_unavailable:
      return "storage_unavailable";
    case errc::interrupted:
      return "interrupted";
    case errc::cancelled:
      return "cancelled";
    case errc::timeout:
      return "timeout";
    case errc::job_deadline_exceeded:
      return "job_deadline_exceeded";
    case errc::drive_auth_failed:
      return "drive_auth_failed";
    case errc::drive_folder_not_found:
      return "drive_folder_not_found";
    case errc::drive_quota_exceeded:
      return "drive_quota_exceeded";
    case errc::drive_upload_failed:
      return "drive_upload_failed";
    case errc::drive_checksum_mismatch:
      return "drive_checksum_mismatch";
    case errc::drive_rate_limited:
      return "drive_rate_limited";
    case errc::drive_session_expired:
      return "drive_session_expired";
    case errc::tls_error:
      return "tls_error";
    case errc::http_protocol_error:
      return "http_protocol_error";
    case errc::verify_mismatch:
      return "verify_mismatch";
    case errc::verify_missing:
      return "verify_missing";
    case errc::validation_failed:
      return "validation_failed";
    case errc::immutable_field:
      return "immutable_field";
    case errc::unknown_option:
      return "unknown_option";
    case errc::missing_value:
      return "missing_value";
    case errc::unexpected_value:
      return "unexpected_value";
    case errc::repeated_option:
      return "repeated_option";
    case errc::backup_too_large:
      return "backup_too_large";
    case errc::storage_full:
      return "storage_full";
    case errc::export_in_progress:
      return "export_in_progress";
    case errc::spool_full:
      return "spool_full";
    case errc::export_command_failed:
      return "export_command_failed";
    case errc::range_not_satisfiable:
      return "range_not_satisfiable";
    case errc::too_many_event_streams:
      return "too_many_event_streams";
    case errc::events_unavailable:
      return "events_unavailable";
    case errc::invalid_signature:
      return "invalid_signature";
    case errc::link_expired:
      return "link_expired";
  }
  return "internal_error";
}

class respaldo_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "respaldo"; }
  std::string message(int ev) const override { return std::string(name_of(static_cast<errc>(ev))); }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const respaldo_category category;
  return category;
}

std::string_view code_name(const boost::system::error_code& ec) noexcept {
  if (ec.category() == error_category()) return name_of(static_cast<errc>(ec.value()));
  return "internal_error";
}

void throw_exception_from_error(const failure& f, const boost::source_location& loc) {
  boost::throw_exception(boost::system::system_error(f.code, f.message), loc);
}

namespace {

std::string excerpt(std::string_view text, std::size_t limit, bool blank_controls) {
  // Trailing white space (a body's final newline) says nothing; drop it rather than show it.
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t'))
    text.remove_suffix(1);
  std::string out;
  // Whole characters and whole escapes only, so the cut never leaves a broken UTF-8 sequence.
  for (std::size_t i = 0; i < text.size();) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(text[i]);
    if (blank_controls && (u < 0x20 || u == 0x7f)) {
      out += ' ';
      ++i;
      continue;
    }
    i += append_escaped_at(out, text, i);
  }
  if (blank_controls)
    while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

std::string printable_excerpt(std::string_view text, std::size_t limit) {
  return excerpt(text, limit, true);
}

std::string escaped_excerpt(std::string_view text, std::size_t limit) {
  return excerpt(text, limit, false);
}

bool is_transient(const boost::system::error_code& ec) noexcept {
  if (ec.category() == error_category()) {
    switch (static_cast<errc>(ec.value())) {
      case errc::app_unreachable:
      case errc::app_timeout:
      case errc::app_export_failed:
      case errc::timeout:
      case errc::interrupted:
      case errc::drive_rate_limited:
      case errc::storage_unavailable:
      case errc::drive_session_expired:
      case errc::http_protocol_error:
        return true;
      default:
        return false;
    }
  }
  // socket-level failures are worth another try
  return ec == boost::asio::error::connection_refused ||
         ec == boost::asio::error::connection_reset || ec == boost::asio::error::timed_out ||
         ec == boost::asio::error::eof || ec == boost::asio::error::broken_pipe ||
         ec == boost::asio::error::host_not_found_try_again;
}

std::ostream& operator<<(std::ostream& os, const failure& f) {
  return os << code_name(f.code) << ": " << f.message;
}

}  // namespace respaldo
