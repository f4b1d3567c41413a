#include "respaldo/domain/backup.hpp"

#include "respaldo/domain/enum_names.hpp"

namespace respaldo {
namespace {

using detail::enum_names;

constexpr enum_names<backup_status, 5> status_names{{
    {backup_status::available, "available"},
    {backup_status::missing, "missing"},
    {backup_status::deleting, "deleting"},
    {backup_status::corrupt, "corrupt"},
    {backup_status::unverified, "unverified"},
}};

constexpr enum_names<storage_kind, 2> storage_names{{
    {storage_kind::local, "local"},
    {storage_kind::drive, "drive"},
}};

}  // namespace

std::string_view to_string(backup_status s) {
  return detail::name_of(status_names, s);
}
std::optional<backup_status> parse_backup_status(std::string_view s) {
  return detail::value_of(status_names, s);
}

std::string_view to_string(storage_kind k) {
  return detail::name_of(storage_names, k);
}
std::optional<storage_kind> parse_storage_kind(std::string_view s) {
  return detail::value_of(storage_names, s);
}

}  // namespace respaldo
