// Temporary directories and files for unit tests, removed at scope exit.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace respaldo::test {

// A fresh directory under the system's temporary directory. The destructor first gives the owner
// back full access, so tests that take permissions away still leave nothing behind.
struct temp_dir {
  std::filesystem::path path;

  explicit temp_dir(std::string_view prefix = "respaldo-test") {
    std::string templ =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~temp_dir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    for (auto it = fs::recursive_directory_iterator(path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A fresh file holding `content`.
struct temp_file {
  std::string path;

  explicit temp_file(const std::string& content, std::string_view prefix = "respaldo-test") {
    std::string templ =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    int fd = ::mkstemp(templ.data());
    REQUIRE(fd >= 0);
    ::close(fd);
    path = templ;
    std::ofstream(path) << content;
  }
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
};

}  // namespace respaldo::test
