#include "respaldo/agent/spool.hpp"

#include <sys/statvfs.h>

#include <boost/json.hpp>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "respaldo/core/file_io.hpp"

namespace respaldo {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view spool_prefix = "export-";

std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<last_run> load_last_run(const std::string& spool_dir) {
  std::ifstream in(fs::path(spool_dir) / "last-run.json");
  if (!in) return std::nullopt;
  std::ostringstream os;
  os << in.rdbuf();
  boost::system::error_code ec;
  auto v = json::parse(os.str(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto number = [&o](const char* key) -> std::optional<std::uint64_t> {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    if (it->value().is_uint64()) return it->value().as_uint64();
    if (it->value().is_int64() && it->value().as_int64() >= 0)
      return static_cast<std::uint64_t>(it->value().as_int64());
    return std::nullopt;
  };
  auto seconds = number("seconds");
  auto size = number("size");
  if (!seconds || !size) return std::nullopt;
  return last_run{*seconds, *size};
}

outcome<void> save_last_run(const std::string& spool_dir, const last_run& run) {
  const auto path = fs::path(spool_dir) / "last-run.json";
  const auto tmp = fs::path(spool_dir) / ".last-run.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json::serialize(json::object{{"seconds", run.seconds}, {"size", run.size}}) << "\n";
    if (!out) return failure{errc::storage_error, "cannot write " + tmp.string()};
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return failure{errc::storage_error, "cannot write " + path.string() + ": " + ec.message()};
  return {};
}

std::uint64_t spool_space_needed(const std::optional<last_run>& last) {
  if (!last) return 0;
  return last->size + last->size / 2;
}

outcome<void> check_spool_space(const std::string& spool_dir, std::uint64_t needed) {
  struct statvfs st {};
  if (::statvfs(spool_dir.c_str(), &st) != 0)
    return errno_failure(errno, "cannot read the free space of the spool dir " + spool_dir);
  const std::uint64_t avail = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  if (avail >= needed) return {};
  return failure{errc::spool_full,
                 "the spool dir " + spool_dir + " has " + std::to_string(avail) +
                     " bytes free; the next dump needs about " + std::to_string(needed) +
                     " (1.5 times the last one): free space there or point --spool-dir at a "
                     "larger volume"};
}

outcome<std::size_t> prepare_spool_dir(const std::string& spool_dir) {
  std::error_code ec;
  fs::create_directories(spool_dir, ec);
  if (ec)
    return failure{errc::invalid_argument,
                   "cannot create the spool dir " + spool_dir + ": " + ec.message()};
  if (!fs::is_directory(spool_dir, ec))
    return failure{errc::invalid_argument, spool_dir + " is not a directory"};
  fs::permissions(spool_dir, fs::perms::owner_all, ec);
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(spool_dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind(spool_prefix, 0) != 0) continue;
    std::error_code rec;
    if (fs::remove(entry.path(), rec)) ++removed;
  }
  if (ec)
    return failure{errc::invalid_argument,
                   "cannot list the spool dir " + spool_dir + ": " + ec.message()};
  return removed;
}

std::string spool_file_path(const std::string& spool_dir, std::string_view export_id) {
  return (fs::path(spool_dir) / (std::string(spool_prefix) + std::string(export_id) + ".spool"))
      .string();
}

outcome<std::optional<byte_range>> parse_range(std::optional<std::string_view> header,
                                               std::uint64_t size) {
  if (!header) return std::optional<byte_range>{};
  constexpr std::string_view unit = "bytes=";
  auto spec = *header;
  if (spec.substr(0, unit.size()) != unit || spec.find(',') != std::string_view::npos)
    return failure{errc::invalid_argument,
                   "expected Range: bytes=FIRST- or bytes=FIRST-LAST (one range)"};
  spec.remove_prefix(unit.size());
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos)
    return failure{errc::invalid_argument, "expected Range: bytes=FIRST- or bytes=FIRST-LAST"};
  const auto first_text = spec.substr(0, dash);
  const auto last_text = spec.substr(dash + 1);
  byte_range r;
  if (first_text.empty()) {  // a suffix: the last N bytes
    auto n = to_u64(last_text);
    if (!n) return failure{errc::invalid_argument, "expected Range: bytes=-N with a number"};
    if (*n == 0 || size == 0)
      return failure{errc::range_not_satisfiable, "the range selects no byte"};
    r.first = *n >= size ? 0 : size - *n;
    r.last = size - 1;
    return std::optional<byte_range>{r};
  }
  auto first = to_u64(first_text);
  if (!first) return failure{errc::invalid_argument, "the range's first byte is not a number"};
  if (*first >= size)
    return failure{errc::range_not_satisfiable, "the range starts at byte " +
                                                    std::to_string(*first) + " of a " +
                                                    std::to_string(size) + "-byte file"};
  r.first = *first;
  r.last = size - 1;
  if (!last_text.empty()) {
    auto last = to_u64(last_text);
    if (!last || *last < *first)
      return failure{errc::invalid_argument, "the range's last byte is before its first"};
    r.last = std::min(*last, size - 1);
  }
  return std::optional<byte_range>{r};
}

}  // namespace respaldo
