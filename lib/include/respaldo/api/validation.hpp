// Validation of app registrations and updates. Every failure names the field and says what is
// expected, so a client can fix its request without reading the source.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <string>

#include "respaldo/store/store.hpp"

namespace respaldo {

struct field_error {
  std::string field;
  std::string message;
  std::string code = "validation_failed";
};

// Checks every field of the guide's registration body (plus the optional `timezone` and
// `verify_schedule`) and rejects unknown fields by name.
boost::system::result<app_record, field_error> validate_registration(
    const boost::json::value& body);

// Applies a JSON merge patch to `app` (any field but `name`); on error `app` is left unchanged.
std::optional<field_error> apply_app_patch(app_record& app, const boost::json::value& patch);

// The individual rules, shared with other callers.
std::optional<std::string> check_app_name(std::string_view name);
std::optional<std::string> check_app_url(std::string_view url);
std::optional<std::string> check_drive_folder_id(std::string_view id);

}  // namespace respaldo
