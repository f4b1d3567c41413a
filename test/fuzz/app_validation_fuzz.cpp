// App registration and PATCH validation. Input: a registration body, a newline, a patch. A
// refusal names its field and never echoes the token; an accepted app passes its own rules
// again, and a patch never renames an app.
#include <boost/json/parse.hpp>

#include "fuzz_support.hpp"
#include "respaldo/api/validation.hpp"
#include "respaldo/plan/cron.hpp"

using namespace respaldo;

namespace {

// The token the body carries, when it is long enough to be recognised in a message.
std::string token_in(const boost::json::value& body) {
  if (!body.is_object()) return {};
  const auto* t = body.as_object().if_contains("token");
  if (!t || !t->is_string() || t->as_string().size() < 8) return {};
  return std::string(t->as_string());
}

void check_refusal(const failure& f, const std::string& token) {
  fuzz::check_failure(f);
  if (!token.empty())
    fuzz::require(f.message.find(token) == std::string::npos, "a refusal never echoes the token");
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
  const auto token = token_in(body);
  auto app = validate_registration(body);
  if (!app) {
    check_refusal(app.error(), token);
    return 0;
  }
  check_app(*app);
  if (parts.size() < 2) return 0;
  auto patch = boost::json::parse(parts[1], ec);
  if (ec) return 0;
  auto patched = apply_app_patch(*app, patch);
  if (!patched) {
    check_refusal(patched.error(), token_in(patch));
    return 0;
  }
  fuzz::require(patched->name == app->name, "a patch never renames an app");
  check_app(*patched);
  return 0;
}
