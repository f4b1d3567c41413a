#include "respaldo/config/config.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_files.hpp"

namespace {

using respaldo::parse_serve_config;
using namespace std::chrono_literals;

// Sets (or unsets) an environment variable for the scope of a test and restores it afterwards.
class env_var {
 public:
  env_var(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = std::string(old);
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~env_var() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  env_var(const env_var&) = delete;
  env_var& operator=(const env_var&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Clears the variables the tests below use, so the surrounding environment cannot leak in.
struct clean_env {
  env_var a{"RESPALDO_LOG_FORMAT", nullptr};
  env_var b{"RESPALDO_LISTEN", nullptr};
  env_var c{"RESPALDO_DATA_DIR", nullptr};
  env_var d{"RESPALDO_MAX_ATTEMPTS", nullptr};
  env_var e{"RESPALDO_SHUTDOWN_GRACE", nullptr};
  env_var f{"RESPALDO_CONFIG", nullptr};
  env_var g{"RESPALDO_HELP", nullptr};
  env_var h{"RESPALDO_STORAGE", nullptr};
  env_var i{"RESPALDO_LOG_LEVEL", nullptr};
  env_var j{"RESPALDO_TIMEZONE", nullptr};
};

using respaldo::test::temp_file;

}  // namespace

TEST_CASE("parse_duration", "[config]") {
  struct row {
    const char* text;
    std::int64_t ms;
  };
  for (const auto& r : std::vector<row>{{"250ms", 250},
                                        {"0ms", 0},
                                        {"30s", 30'000},
                                        {"0s", 0},
                                        {"0", 0},
                                        {"45", 45'000},
                                        {"5m", 300'000},
                                        {"2h", 7'200'000},
                                        {"1d", 86'400'000},
                                        {"90m", 5'400'000},
                                        {"365d", 31'536'000'000}}) {
    INFO(r.text);
    auto d = respaldo::parse_duration(r.text);
    REQUIRE(d);
    CHECK(d->count() == r.ms);
  }
  for (const char* bad :
       {"", "s", "ms", "5x", "-5s", "+5s", "5 s", " 5s", "5s ", "1.5s", "5S", "5M", "5sec", "5min",
        "1h30m", "99999999999999999999d", "18446744073709551615s", "100000000d", "0x10s"}) {
    INFO('"' << bad << '"');
    CHECK_FALSE(respaldo::parse_duration(bad));
  }
}

TEST_CASE("parse_byte_size", "[config]") {
  struct row {
    const char* text;
    std::uint64_t bytes;
  };
  for (const auto& r : std::vector<row>{{"0", 0},
                                        {"262144", 262'144},
                                        {"10B", 10},
                                        {"256KiB", 262'144},
                                        {"8MiB", 8'388'608},
                                        {"1GiB", 1'073'741'824},
                                        {"64GiB", 68'719'476'736}}) {
    INFO(r.text);
    auto b = respaldo::parse_byte_size(r.text);
    REQUIRE(b);
    CHECK(*b == r.bytes);
  }
  for (const char* bad : {"", "MiB", "8MB", "8mib", "8M", "8 MiB", "-1", "1.5MiB", "8KB", "8TiB",
                          "99999999999999999999", "2000000GiB", "0x10"}) {
    INFO('"' << bad << '"');
    CHECK_FALSE(respaldo::parse_byte_size(bad));
  }
}

TEST_CASE("serve config defaults", "[config]") {
  clean_env env;
  auto out = parse_serve_config({});
  INFO(out.message);
  REQUIRE(out.config);
  CHECK(out.exit_code == 0);
  const auto& c = *out.config;
  CHECK(c.listen_host == "127.0.0.1");
  CHECK(c.listen_port == 8080);
  CHECK(c.data_dir == "./var");
  CHECK(c.admin_token_file.empty());
  CHECK(c.log_format == "text");
  CHECK(c.log_level == "info");
  CHECK(c.storage == "local");
  CHECK(c.max_body_bytes == 1024 * 1024);
  CHECK(c.chunk_size == 8 * 1024 * 1024);
  CHECK(c.max_attempts == 3);
  CHECK(c.request_timeout == 30s);
  CHECK(c.shutdown_grace == 10s);
  CHECK(c.timezone == "UTC");
}

TEST_CASE("serve flags are read", "[config]") {
  clean_env env;
  auto out = parse_serve_config({"--listen",           "0.0.0.0:9000",
                                 "--data-dir",         "/srv/respaldo",
                                 "--admin-token-file", "/run/secrets/admin",
                                 "--log-format",       "json",
                                 "--log-level",        "debug",
                                 "--max-body-bytes",   "2MiB",
                                 "--chunk-size",       "512KiB",
                                 "--max-attempts",     "7",
                                 "--shutdown-grace",   "2s",
                                 "--request-timeout",  "500ms",
                                 "--secret-key-file",  "/k"});
  INFO(out.message);
  REQUIRE(out.config);
  const auto& c = *out.config;
  CHECK(c.listen_host == "0.0.0.0");
  CHECK(c.listen_port == 9000);
  CHECK(c.data_dir == "/srv/respaldo");
  CHECK(c.admin_token_file == "/run/secrets/admin");
  CHECK(c.log_format == "json");
  CHECK(c.log_level == "debug");
  CHECK(c.max_body_bytes == 2 * 1024 * 1024);
  CHECK(c.chunk_size == 512 * 1024);
  CHECK(c.max_attempts == 7);
  CHECK(c.shutdown_grace == 2s);
  CHECK(c.request_timeout == 500ms);
  CHECK(c.secret_key_file == "/k");

  SECTION("the --flag=value form and IPv6 listen addresses") {
    out = parse_serve_config({"--listen=[::1]:0", "--log-format=json"});
    REQUIRE(out.config);
    CHECK(out.config->listen_host == "::1");
    CHECK(out.config->listen_port == 0);
    CHECK(out.config->log_format == "json");
  }
}

TEST_CASE("serve help goes to stdout with exit 0", "[config]") {
  clean_env env;
  for (const char* flag : {"--help", "-h"}) {
    auto out = parse_serve_config({flag});
    CHECK_FALSE(out.config);
    CHECK(out.exit_code == 0);
    CHECK_THAT(out.message, Catch::Contains("--listen") && Catch::Contains("--data-dir") &&
                                Catch::Contains("--admin-token-file") &&
                                Catch::Contains("--log-format") && Catch::Contains("--config") &&
                                Catch::Contains("RESPALDO_"));
  }
}

TEST_CASE("serve config errors exit 2 and name the flag", "[config]") {
  clean_env env;
  struct row {
    std::vector<std::string> args;
    const char* names;
  };
  const std::vector<row> rows = {
      {{"--bogus"}, "--bogus"},
      {{"--listen"}, "--listen"},
      {{"--listen", "8080"}, "--listen"},
      {{"--listen", ":8080"}, "--listen"},
      {{"--listen", "127.0.0.1:"}, "--listen"},
      {{"--listen", "127.0.0.1:65536"}, "--listen"},
      {{"--listen", "127.0.0.1:http"}, "--listen"},
      {{"--log-format", "xml"}, "--log-format"},
      {{"--log-level", "trace"}, "--log-level"},
      {{"--storage", "tape"}, "--storage"},
      {{"--storage", "drive"}, "--drive-credentials"},
      {{"--max-attempts", "abc"}, "--max-attempts"},
      {{"--max-attempts", "0"}, "--max-attempts"},
      {{"--max-attempts", "101"}, "--max-attempts"},
      {{"--max-concurrent-jobs", "0"}, "--max-concurrent-jobs"},
      {{"--chunk-size", "100KiB"}, "--chunk-size"},
      {{"--chunk-size", "1GiB"}, "--chunk-size"},
      {{"--max-body-bytes", "100"}, "--max-body-bytes"},
      {{"--max-body-bytes", "1TiB"}, "--max-body-bytes"},
      {{"--request-timeout", "0s"}, "--request-timeout"},
      {{"--request-timeout", "soon"}, "--request-timeout"},
      {{"--shutdown-grace", "5x"}, "--shutdown-grace"},
      {{"--retry-base-delay", "-1s"}, "--retry-base-delay"},
      {{"--data-dir", ""}, "--data-dir"},
      {{"--log-format", "json", "--log-format", "text"}, "--log-format"},
      {{"--config", "/nonexistent/respaldo.conf"}, "--config"},
      {{"serve"}, "serve"},
      {{"extra", "args"}, "extra"},
  };
  for (const auto& r : rows) {
    std::string joined;
    for (const auto& a : r.args) joined += a + " ";
    INFO(joined);
    auto out = parse_serve_config(r.args);
    CHECK_FALSE(out.config);
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.message, Catch::Contains(r.names));
    CHECK_THAT(out.message, Catch::StartsWith("error: "));
  }
}

TEST_CASE("serve options come from RESPALDO_* variables, below flags", "[config]") {
  clean_env env;
  env_var fmt("RESPALDO_LOG_FORMAT", "json");
  env_var listen("RESPALDO_LISTEN", "10.0.0.1:7000");
  env_var attempts("RESPALDO_MAX_ATTEMPTS", "9");
  env_var grace("RESPALDO_SHUTDOWN_GRACE", "3s");
  env_var token("RESPALDO_ADMIN_TOKEN", "not-an-option-and-ignored-here");
  env_var unrelated("RESPALDO_SOMETHING_ELSE", "1");

  auto out = parse_serve_config({});
  INFO(out.message);
  REQUIRE(out.config);
  CHECK(out.config->log_format == "json");
  CHECK(out.config->listen_host == "10.0.0.1");
  CHECK(out.config->listen_port == 7000);
  CHECK(out.config->max_attempts == 9);
  CHECK(out.config->shutdown_grace == 3s);
  CHECK(out.config->admin_token.empty());

  out = parse_serve_config({"--log-format", "text", "--max-attempts", "2"});
  REQUIRE(out.config);
  CHECK(out.config->log_format == "text");
  CHECK(out.config->max_attempts == 2);
  CHECK(out.config->listen_port == 7000);

  SECTION("a bad value from the environment is refused by flag name") {
    env_var bad("RESPALDO_LOG_FORMAT", "yaml");
    out = parse_serve_config({});
    CHECK_FALSE(out.config);
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.message, Catch::Contains("log-format"));
  }
  SECTION("RESPALDO_HELP and RESPALDO_CONFIG are not options") {
    env_var help("RESPALDO_HELP", "1");
    env_var config("RESPALDO_CONFIG", "/nonexistent");
    out = parse_serve_config({});
    INFO(out.message);
    CHECK(out.config);
  }
}

TEST_CASE("serve options from a config file, below environment and flags", "[config]") {
  clean_env env;
  temp_file file(
      "# respaldo settings\n"
      "log-format = json\n"
      "max-attempts = 5\n"
      "data-dir = /from/file\n"
      "shutdown-grace = 20s\n");

  auto out = parse_serve_config({"--config", file.path});
  INFO(out.message);
  REQUIRE(out.config);
  CHECK(out.config->log_format == "json");
  CHECK(out.config->max_attempts == 5);
  CHECK(out.config->data_dir == "/from/file");
  CHECK(out.config->shutdown_grace == 20s);

  env_var attempts("RESPALDO_MAX_ATTEMPTS", "6");
  out = parse_serve_config({"--config", file.path, "--data-dir", "/from/flag"});
  REQUIRE(out.config);
  CHECK(out.config->max_attempts == 6);
  CHECK(out.config->data_dir == "/from/flag");
  CHECK(out.config->log_format == "json");

  SECTION("unknown keys and bad values in the file are errors naming them") {
    temp_file unknown("no-such-option = 1\n");
    out = parse_serve_config({"--config", unknown.path});
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.message, Catch::Contains("no-such-option"));
    temp_file bad("log-format = yaml\n");
    out = parse_serve_config({"--config", bad.path});
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.message, Catch::Contains("log-format"));
  }
}

TEST_CASE("serve --progress-interval and --max-backup-size", "[config]") {
  clean_env env;
  auto defaults = parse_serve_config({});
  REQUIRE(defaults.config);
  CHECK(defaults.config->progress_interval == 500ms);
  CHECK(defaults.config->max_backup_size == 5ull * 1024 * 1024 * 1024 * 1024);

  auto set = parse_serve_config({"--progress-interval", "100ms", "--max-backup-size", "1MiB"});
  REQUIRE(set.config);
  CHECK(set.config->progress_interval == 100ms);
  CHECK(set.config->max_backup_size == 1024 * 1024);
  auto tib = parse_serve_config({"--max-backup-size", "2TiB"});
  REQUIRE(tib.config);
  CHECK(tib.config->max_backup_size == 2ull << 40);

  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--progress-interval", "0s"},
                                              {"--progress-interval", "often"},
                                              {"--max-backup-size", "0"},
                                              {"--max-backup-size", "1.5TiB"},
                                              {"--max-backup-size", "TiB"},
                                              {"--max-backup-size", "2000TiB"},
                                              {"--max-backup-size", "big"}}) {
    INFO(bad[0] << " " << bad[1]);
    auto out = parse_serve_config(bad);
    CHECK_FALSE(out.config);
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.message, Catch::StartsWith("error: " + bad[0] + ": "));
  }
}

TEST_CASE("serve notification flags", "[config][notify]") {
  clean_env env;
  auto defaults = parse_serve_config({});
  REQUIRE(defaults.config);
  CHECK(defaults.config->public_url.empty());
  CHECK(defaults.config->notify_retry_base == 30s);
  CHECK(defaults.config->notify_retry_max == 1h);
  CHECK(defaults.config->notify_timeout == 10s);
  CHECK(defaults.config->notify_max_pending == 10'000);

  auto set = parse_serve_config({"--public-url", "https://respaldo.example.com/",
                                 "--notify-retry-base", "200ms", "--notify-retry-max", "2s",
                                 "--notify-timeout", "3s", "--notify-max-pending", "5"});
  REQUIRE(set.config);
  CHECK(set.config->public_url == "https://respaldo.example.com");  // no trailing slash
  CHECK(set.config->notify_retry_base == 200ms);
  CHECK(set.config->notify_retry_max == 2s);
  CHECK(set.config->notify_timeout == 3s);
  CHECK(set.config->notify_max_pending == 5);

  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--public-url", "respaldo.example.com"},
        {"--notify-retry-base", "0s"},
        {"--notify-retry-max", "never"},
        {"--notify-timeout", "0"},
        {"--notify-max-pending", "0"},
        {"--notify-max-pending", "2000000"}}) {
    INFO(bad[0] << " " << bad[1]);
    auto out = parse_serve_config(bad);
    CHECK_FALSE(out.config);
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.message, Catch::StartsWith("error: " + bad[0] + ": "));
  }
}

TEST_CASE("serve --hash-threads and --drive-md5", "[config]") {
  clean_env env;
  auto defaults = parse_serve_config({});
  REQUIRE(defaults.config);
  CHECK(defaults.config->hash_threads == std::max(1u, std::thread::hardware_concurrency()));
  CHECK_FALSE(defaults.config->drive_md5);

  auto set = parse_serve_config({"--hash-threads", "0", "--drive-md5"});
  REQUIRE(set.config);
  CHECK(set.config->hash_threads == 0);
  CHECK(set.config->drive_md5);
  auto three = parse_serve_config({"--hash-threads", "3"});
  REQUIRE(three.config);
  CHECK(three.config->hash_threads == 3);

  for (const char* bad : {"65", "-1", "two", "", "3x", "auto "}) {
    INFO(bad);
    auto out = parse_serve_config({"--hash-threads", bad});
    CHECK_FALSE(out.config);
    CHECK(out.exit_code == 2);
    CHECK_THAT(out.message, Catch::StartsWith("error: --hash-threads: expected auto or 0 to 64"));
  }
}
