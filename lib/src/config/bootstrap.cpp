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
using boost::system::in_place_error;
using boost::system::in_place_value;

std::string trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

boost::system::result<std::string, std::string> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return {in_place_error,
            "cannot read the admin token file " + path + ": " + std::strerror(errno)};
  std::ostringstream os;
  os << in.rdbuf();
  auto token = trim(os.str());
  if (token.size() < 16)
    return {in_place_error, "the admin token in " + path +
                                " is shorter than 16 characters; use a long random value"};
  if (token.size() > 4096)
    return {in_place_error, "the admin token in " + path + " is longer than 4096 bytes"};
  return {in_place_value, token};
}

}  // namespace

boost::system::result<void, std::string> prepare_data_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return {in_place_error, "cannot create the data directory " + dir + ": " + ec.message()};
  if (!fs::is_directory(dir, ec)) return {in_place_error, dir + " is not a directory"};
  ::chmod(dir.c_str(), 0700);
  return {};
}

boost::system::result<admin_token_source, std::string> load_admin_token(
    const std::string& token_file, const std::string& env_value, const std::string& data_dir) {
  if (!token_file.empty()) {
    auto t = read_token_file(token_file);
    if (!t) return {in_place_error, t.error()};
    return admin_token_source{*t, "file " + token_file};
  }
  if (!env_value.empty()) {
    auto token = trim(env_value);
    if (token.size() < 16)
      return {in_place_error,
              "RESPALDO_ADMIN_TOKEN is shorter than 16 characters; use a long random value"};
    return admin_token_source{token, "environment RESPALDO_ADMIN_TOKEN"};
  }
  const std::string path = (fs::path(data_dir) / "admin-token").string();
  if (fs::exists(path)) {
    auto t = read_token_file(path);
    if (!t) return {in_place_error, t.error()};
    return admin_token_source{*t, "file " + path};
  }
  auto token = random_token(32);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return {in_place_error, "cannot create " + path + ": " + std::strerror(errno)};
  const std::string line = token + "\n";
  const bool ok = write_fully(fd, line.data(), line.size()) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());  // a half-written token file would be read back next start
    return {in_place_error, "cannot write " + path};
  }
  sync_parent_directory(path);
  return admin_token_source{token, "generated " + path};
}

}  // namespace respaldo
