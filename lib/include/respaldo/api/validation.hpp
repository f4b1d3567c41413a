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

// A notifier's creation body: name, kind, url, and optional secret, events and apps. Refusals are
// errc::validation_failed naming the field; the URL is never repeated in a message (a Slack
// hook's path is its secret). url_host is filled in from the URL.
outcome<notifier_record> validate_notifier(const boost::json::value& body);

// `n` with a JSON merge patch applied: url, secret (null removes it), events, apps (null: every
// app) and enabled (true re-enables a notifier a 410 disabled); name and kind are immutable.
// `clear_secret` tells whether the patch removed the secret.
outcome<notifier_record> apply_notifier_patch(const notifier_record& n,
                                              const boost::json::value& patch, bool& clear_secret);

}  // namespace respaldo
