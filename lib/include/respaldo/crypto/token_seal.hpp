// App tokens at rest: sealed with the server's secret key, the app's name as associated data, so
// a sealed token cannot be moved to another app. The store keeps the sealed text opaque; the
// callers that register apps seal, the ones that call an app open.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace respaldo {

class secret_box;
class logger;

class token_seal {
 public:
  // Both must outlive the token_seal.
  token_seal(const secret_box& box, logger& log) : box_(box), log_(log) {}

  std::string seal(std::string_view app, std::string_view token) const;

  // The plaintext token, or nullopt when it does not open: the key file changed. The app stays
  // visible but unusable until a new token is PATCHed; that is logged once per app, not per read.
  std::optional<std::string> open(std::string_view app, std::string_view sealed);

 private:
  const secret_box& box_;
  logger& log_;
  std::set<std::string, std::less<>> unopenable_;
};

}  // namespace respaldo
