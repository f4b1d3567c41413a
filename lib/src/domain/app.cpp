#include "respaldo/domain/app.hpp"

#include "respaldo/domain/enum_names.hpp"

namespace respaldo {
namespace {

using detail::enum_names;

constexpr enum_names<health_status, 5> health_names{{
    {health_status::unknown, "unknown"},
    {health_status::ok, "ok"},
    {health_status::unreachable, "unreachable"},
    {health_status::unauthorized, "unauthorized"},
    {health_status::invalid, "invalid"},
}};

constexpr enum_names<verify_result, 4> verify_names{{
    {verify_result::passed, "passed"},
    {verify_result::corrupt, "corrupt"},
    {verify_result::missing, "missing"},
    {verify_result::failed, "failed"},
}};

}  // namespace

std::string_view to_string(health_status s) {
  return detail::name_of(health_names, s);
}
std::optional<health_status> parse_health_status(std::string_view s) {
  return detail::value_of(health_names, s);
}

std::string_view to_string(verify_result r) {
  return detail::name_of(verify_names, r);
}
std::optional<verify_result> parse_verify_result(std::string_view s) {
  return detail::value_of(verify_names, s);
}

}  // namespace respaldo
