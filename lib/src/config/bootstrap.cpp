#include "respaldo/config/bootstrap.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "respaldo/core/file_io.hpp"
#include "respaldo/crypto/crypto.hpp"

namespace respaldo {
namespace {

namespace fs = std::filesystem;

// A bad token value is the operator's to fix; file system failures keep their errno.
failure invalid(std::string message) {
  return failure{errc::invalid_argument, std::move(message)};
}
failure os_failure(int err, std::string message) {
  return failure{boost::system::error_code(err, boost::system::generic_category()),
                 std::move(message)};
}

std::string trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

outcome<std::string> read_token_file(const std::string& path, std::string_view what = "admin") {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return os_failure(err, "cannot read the " + std::string(what) + " token file " + path + ": " +
                               std::strerror(err));
  }
  std::ostringstream os;
  os << in.rdbuf();
  // Trimmed in place: g++ 12 warns falsely (stringop-overread) when a checked local string is
  // moved into the outcome.
  outcome<std::string> token(boost::system::in_place_value, trim(os.str()));
  if (token->size() < 16)
    return invalid("the " + std::string(what) + " token in " + path +
                   " is shorter than 16 characters; use a long random value");
  if (token->size() > 4096)
    return invalid("the " + std::string(what) + " token in " + path + " is longer than 4096 bytes");
  return token;
}

}  // namespace

outcome<void> prepare_data_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return os_failure(ec.value(), "cannot create the data directory " + dir + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) return os_failure(ENOTDIR, dir + " is not a directory");
  ::chmod(dir.c_str(), 0700);
  return {};
}

outcome<std::string> load_token_file(const std::string& token_file, std::string_view what) {
  return read_token_file(token_file, what);
}

outcome<std::string> load_metrics_token(const std::string& token_file) {
  if (token_file.empty()) return std::string();
  return read_token_file(token_file, "metrics");
}

outcome<admin_token_source> load_admin_token(const std::string& token_file,
                                             const std::string& env_value,
                                             const std::string& data_dir) {
  if (!token_file.empty()) {
    auto t = read_token_file(token_file);
    if (!t) return t.error();
    return admin_token_source{*t, "file " + token_file};
  }
  if (!env_value.empty()) {
    auto token = trim(env_value);
    if (token.size() < 16)
      return invalid("RESPALDO_ADMIN_TOKEN is shorter than 16 characters; use a long random value");
    return admin_token_source{token, "environment RESPALDO_ADMIN_TOKEN"};
  }
  const std::string path = (fs::path(data_dir) / "admin-token").string();
  if (fs::exists(path)) {
    auto t = read_token_file(path);
    if (!t) return t.error();
    return admin_token_source{*t, "file " + path};
  }
  auto token = random_token(32);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    return os_failure(err, "cannot create " + path + ": " + std::strerror(err));
  }
  const std::string line = token + "\n";
  const auto written = write_fully(fd, line.data(), line.size());
  int err = written ? 0 : written.error().code.value();
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  const bool ok = err == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());  // a half-written token file would be read back next start
    return os_failure(err, "cannot write " + path);
  }
  sync_parent_directory(path);
  return admin_token_source{token, "generated " + path};
}

}  // namespace respaldo
