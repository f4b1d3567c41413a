// What each notifier kind sends for one outbox row. Sans-io: a row in, a request description out.
//
// The event document is made once, when the event enters the outbox, and stored with the row, so
// every retry sends the same bytes (the webhook signature and X-Respaldo-Delivery stay the same).
// It never holds a token nor a secret; proto/notification-event.schema.json describes it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "respaldo/core/error.hpp"
#include "respaldo/domain/notifier.hpp"

namespace respaldo {

// The JSON text of an event as webhooks receive it. `public_url` (no trailing slash) makes the
// job's link; it is left out when empty.
std::string event_document(const event_record& e, std::string_view delivery_id,
                           std::string_view public_url);

// One line for people (Slack text, logs): "backup.failed mi-app: storage_full: ... (job ...)".
// errc::invalid_argument when the document is not an event document.
outcome<std::string> event_summary(std::string_view document);

struct notify_header {
  std::string name, value;
};

struct notify_request {
  std::string url;  // absolute; for healthchecks the ping URL with /start or /fail appended
  std::string content_type;
  std::vector<notify_header> headers;  // besides Content-Type
  std::string body;
};

// The request a notifier of `kind` at `url` sends for `row`; `secret` signs webhook bodies (no
// signature header when empty). errc::invalid_argument when the row's document is broken.
outcome<notify_request> format_delivery(notifier_kind kind, std::string_view url,
                                        std::string_view secret, const delivery_record& row);

// "sha256=<hex HMAC-SHA256 of body under secret>", the X-Respaldo-Signature value.
std::string webhook_signature(std::string_view secret, std::string_view body);

}  // namespace respaldo
