// The one spelling table behind each domain enum's to_string and parse.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace respaldo::detail {

template <class E, std::size_t N>
using enum_names = std::array<std::pair<E, std::string_view>, N>;

template <class E, std::size_t N>
constexpr std::string_view name_of(const enum_names<E, N>& names, E value) {
  for (const auto& [e, name] : names)
    if (e == value) return name;
  return names[0].second;
}

template <class E, std::size_t N>
constexpr std::optional<E> value_of(const enum_names<E, N>& names, std::string_view text) {
  for (const auto& [e, name] : names)
    if (name == text) return e;
  return std::nullopt;
}

}  // namespace respaldo::detail
