// The serve start-up chores: the data directory and where the admin token comes from.
#include "respaldo/config/bootstrap.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_files.hpp"

using namespace respaldo;
using respaldo::test::temp_dir;

namespace {

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("prepare_data_dir creates a private directory, or says why not", "[config][bootstrap]") {
  temp_dir dir("respaldo-bootstrap");
  const auto data = dir.file("var/data");
  REQUIRE(prepare_data_dir(data).has_value());
  CHECK(std::filesystem::is_directory(data));
  CHECK(mode_of(data) == 0700);
  CHECK(prepare_data_dir(data).has_value());  // already there

  const auto file = dir.file("plain-file");
  std::ofstream(file) << "x";
  auto refused = prepare_data_dir(file);
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().message,
             Catch::StartsWith("cannot create the data directory " + file + ": "));
}

TEST_CASE("load_admin_token: file, then environment, then a generated file",
          "[config][bootstrap]") {
  temp_dir dir("respaldo-bootstrap");
  const std::string token(24, 'k');

  SECTION("from --admin-token-file, trimmed") {
    const auto file = dir.file("token");
    std::ofstream(file) << "  " << token << "\n";
    auto t = load_admin_token(file, "ignored-environment-value", dir.path.string());
    REQUIRE(t.has_value());
    CHECK(t->token == token);
    CHECK(t->origin == "file " + file);
  }
  SECTION("a short token in the file is refused without showing it") {
    const auto file = dir.file("token");
    std::ofstream(file) << "short-secret\n";
    auto t = load_admin_token(file, "", dir.path.string());
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().code == errc::invalid_argument);
    CHECK(t.error().message ==
          "the admin token in " + file + " is shorter than 16 characters; use a long random value");
  }
  SECTION("a missing file names the path") {
    auto t = load_admin_token(dir.file("absent"), "", dir.path.string());
    REQUIRE_FALSE(t.has_value());
    CHECK_THAT(t.error().message,
               Catch::StartsWith("cannot read the admin token file " + dir.file("absent")));
  }
  SECTION("from RESPALDO_ADMIN_TOKEN") {
    auto t = load_admin_token("", token, dir.path.string());
    REQUIRE(t.has_value());
    CHECK(t->origin == "environment RESPALDO_ADMIN_TOKEN");
    auto short_env = load_admin_token("", "short", dir.path.string());
    REQUIRE_FALSE(short_env.has_value());
    CHECK(short_env.error().code == errc::invalid_argument);
    CHECK(short_env.error().message ==
          "RESPALDO_ADMIN_TOKEN is shorter than 16 characters; use a long random value");
  }
  SECTION("generated once in the data directory, then read back") {
    auto made = load_admin_token("", "", dir.path.string());
    REQUIRE(made.has_value());
    const auto path = dir.file("admin-token");
    CHECK(made->origin == "generated " + path);
    CHECK(mode_of(path) == 0600);
    auto again = load_admin_token("", "", dir.path.string());
    REQUIRE(again.has_value());
    CHECK(again->token == made->token);
    CHECK(again->origin == "file " + path);
  }
}

TEST_CASE("load_metrics_token reads --metrics-token-file, or nothing without it",
          "[config][bootstrap]") {
  temp_dir dir("respaldo-bootstrap");
  auto none = load_metrics_token("");
  REQUIRE(none.has_value());
  CHECK(none->empty());

  const auto file = dir.file("metrics-token");
  std::ofstream(file) << "  metrics-token-0123456789\n";
  auto token = load_metrics_token(file);
  REQUIRE(token.has_value());
  CHECK(*token == "metrics-token-0123456789");

  const auto short_file = dir.file("short");
  std::ofstream(short_file) << "tiny\n";
  auto refused = load_metrics_token(short_file);
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().message, Catch::Contains("metrics token") &&
                                          Catch::Contains("shorter than 16") &&
                                          !Catch::Contains("tiny"));
  auto missing = load_metrics_token(dir.file("absent"));
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error().message, Catch::StartsWith("cannot read the metrics token file"));
}
