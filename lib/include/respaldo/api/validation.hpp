// Validation of app registrations and updates. Every failure names the field and says what is
// expected, so a client can fix its request without reading the source.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <string>

#include "respaldo/core/error.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {

// A refused body: which field, why, and the problem+json `code` of the 422 (the field name and
// that code are part of the API, which a failure's code + message cannot carry).
struct field_error {
  std::string field;
  std::string message;
  std::string code = "validation_failed";
};

// Success, or the first field that is wrong.
using field_check = boost::system::result<void, field_error>;

// Checks every field of the guide's registration body (plus the optional `timezone` and
// `verify_schedule`) and rejects unknown fields by name.
boost::system::result<app_record, field_error> validate_registration(
    const boost::json::value& body);

// `app` with a JSON merge patch applied (any field but `name`).
boost::system::result<app_record, field_error> apply_app_patch(const app_record& app,
                                                               const boost::json::value& patch);

// The individual rules; an invalid value fails with errc::invalid_argument and says what is
// expected.
outcome<void> check_app_name(std::string_view name);
outcome<void> check_app_url(std::string_view url);
outcome<void> check_drive_folder_id(std::string_view id);

}  // namespace respaldo
