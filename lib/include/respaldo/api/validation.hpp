// Validation of app registrations and updates. Every failure names the field and says what is
// expected, so a client can fix its request without reading the source.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "respaldo/core/error.hpp"
#include "respaldo/store/store.hpp"

namespace respaldo {

// Checks every field of the guide's registration body (plus the optional `timezone` and
// `verify_schedule`) and rejects unknown fields by name. A refusal's code is the problem+json
// `code` of the 422 (errc::validation_failed, or errc::immutable_field for a patched name) and its
// subject the field at fault ("" for a body that is not an object).
outcome<app_record> validate_registration(const boost::json::value& body);

// `app` with a JSON merge patch applied (any field but `name`).
outcome<app_record> apply_app_patch(const app_record& app, const boost::json::value& patch);

// The individual rules; an invalid value fails with errc::invalid_argument and says what is
// expected.
outcome<void> check_app_name(std::string_view name);
outcome<void> check_app_url(std::string_view url);
outcome<void> check_drive_folder_id(std::string_view id);

}  // namespace respaldo
