// App registration and PATCH validation. Input: a registration body, a newline, a patch. A
// refusal names its field and never echoes the token; an accepted app passes its own rules
// again, and a patch never renames an app.
#include <boost/json/parse.hpp>
#include <optional>

#include "fuzz_support.hpp"
#include "respaldo/api/validation.hpp"
#include "respaldo/plan/cron.hpp"

using namespace respaldo;

namespace {

// The token the body carries, if any.
std::optional<std::string> token_in(const boost::json::value& body) {
  if (!body.is_object()) return std::nullopt;
  const auto* t = body.as_object().if_contains("token");
  if (!t || !t->is_string()) return std::nullopt;
  return std::string(t->as_string());
}

// Only a token's length matters to validation, so a refusal that does not echo the token is the
// same, word for word, with any other token of that length.
template <class Validate>
void check_refusal(const failure& f, const boost::json::value& body, Validate validate) {
  fuzz::check_failure(f);
  const auto token = token_in(body);
  if (!token || token->empty()) return;
  auto other_body = body;
  const char filler = token->find_first_not_of('x') == std::string::npos ? 'y' : 'x';
  other_body.as_object()["token"] = std::string(token->size(), filler);
  auto again = validate(other_body);
  fuzz::require(!again.has_value() && again.error().message == f.message,
                "a refusal does not depend on the token's bytes (it never echoes them)", f.message);
}

void check_app(const app_record& app) {
  fuzz::require(check_app_name(app.name).has_value(), "an accepted name passes its rule", app.name);
  fuzz::require(check_app_url(app.url).has_value(), "an accepted URL passes its rule", app.url);
  fuzz::require(cron_schedule::parse(app.schedule).has_value(), "an accepted schedule parses",
                app.schedule);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 8192) return 0;
  auto parts = fuzz::split(fuzz::as_text(data, size), '\n', 2);
  boost::system::error_code ec;
  auto body = boost::json::parse(parts[0], ec);
  if (ec) return 0;
  auto app = validate_registration(body);
  if (!app) {
    check_refusal(app.error(), body, [](const auto& b) { return validate_registration(b); });
    return 0;
  }
  check_app(*app);
  if (parts.size() < 2) return 0;
  auto patch = boost::json::parse(parts[1], ec);
  if (ec) return 0;
  auto patched = apply_app_patch(*app, patch);
  if (!patched) {
    const app_record& base = *app;
    check_refusal(patched.error(), patch, [&](const auto& p) { return apply_app_patch(base, p); });
    return 0;
  }
  fuzz::require(patched->name == app->name, "a patch never renames an app");
  check_app(*patched);
  return 0;
}
