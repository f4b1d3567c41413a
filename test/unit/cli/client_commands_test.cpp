// The client commands' argument handling through run_client_command: help, each refused flag or
// value (exit 2, the flag named in the first line), and well-formed command lines, which get as
// far as the network (a closed loopback port, exit 1).
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "respaldo/cli/cli_client.hpp"

namespace fs = std::filesystem;

namespace {

struct cli_result {
  int code;
  std::string out, err;
  std::string first_err_line() const { return err.substr(0, err.find('\n')); }
};

// A directory with a token file, and a clean environment (no RESPALDO_SERVER or token).
struct client_fixture {
  client_fixture() {
    ::unsetenv("RESPALDO_SERVER");
    ::unsetenv("RESPALDO_ADMIN_TOKEN");
    std::string tmpl = (fs::temp_directory_path() / "respaldo-cli-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    token_file = (dir / "token").string();
    std::ofstream(token_file) << "test-token\n";
  }
  ~client_fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  cli_result run(const std::string& command, std::vector<std::string> args) const {
    std::ostringstream out, err;
    const int code = respaldo::run_client_command(command, args, out, err);
    return {code, out.str(), err.str()};
  }
  // With a token and a server nobody listens on: a well-formed command line fails with exit 1.
  cli_result run_offline(const std::string& command, std::vector<std::string> args) const {
    args.insert(args.end(), {"--token-file", token_file, "--server", "http://127.0.0.1:1"});
    return run(command, std::move(args));
  }

  fs::path dir;
  std::string token_file;
};

void check_refused(const cli_result& r, const std::string& first_line) {
  CHECK(r.code == respaldo::client_exit_usage);
  CHECK(r.out.empty());
  CHECK(r.first_err_line() == first_line);
}

}  // namespace

TEST_CASE_METHOD(client_fixture, "client commands print their help", "[cli]") {
  for (const char* command : {"apps", "backup", "jobs", "restore", "status"}) {
    INFO(command);
    const auto r = run(command, {"--help"});
    CHECK(r.code == respaldo::client_exit_ok);
    CHECK_THAT(r.out, Catch::StartsWith(std::string("usage: respaldo ") + command));
    CHECK_THAT(r.out, Catch::Contains("--token-file FILE"));
    CHECK(r.err.empty());
  }
  CHECK(run("apps", {"help"}).code == 0);
  CHECK(run("jobs", {"-h"}).code == 0);
  CHECK(run("apps", {"list", "-h"}).code == 0);
  CHECK_THAT(run("jobs", {"list", "--help"}).out, Catch::StartsWith("usage: respaldo jobs list"));
}

TEST_CASE_METHOD(client_fixture, "status: refused command lines", "[cli]") {
  check_refused(run("status", {"extra"}), "respaldo status: unexpected argument 'extra'");
  check_refused(run("status", {"--app", "x"}), "respaldo status: unknown option '--app'");
  // Well formed, but nobody listens there: 1, as for an app that is not fine.
  const auto r = run_offline("status", {});
  CHECK(r.code == respaldo::client_exit_failed);
}

TEST_CASE_METHOD(client_fixture, "apps: refused command lines", "[cli]") {
  check_refused(run("apps", {}), "respaldo apps: missing subcommand (list, get, register, delete)");
  check_refused(run("apps", {"frobnicate"}),
                "respaldo apps: unknown subcommand 'frobnicate' (expected list, get, register, "
                "delete)");
  check_refused(run("apps", {"list", "--bogus"}), "respaldo apps: unknown option '--bogus'");
  check_refused(run("apps", {"list", "--server"}), "respaldo apps: option --server needs a value");
  check_refused(run("apps", {"list", "--json=yes"}), "respaldo apps: option --json takes no value");
  check_refused(run("apps", {"list", "--server", "a", "--server", "b"}),
                "respaldo apps: option --server given more than once");
  check_refused(run("apps", {"get"}), "respaldo apps: missing app NAME");
  check_refused(run("apps", {"delete", "a", "b"}), "respaldo apps: unexpected argument 'b'");
  check_refused(run("apps", {"list", "--file", "x"}), "respaldo apps: unknown option '--file'");
  check_refused(run("apps", {"register"}),
                "respaldo apps: missing --file FILE (the registration JSON, or -)");
  check_refused(run("apps", {"register", "--file", "/nonexistent/app.json"}),
                "respaldo apps: --file: cannot read /nonexistent/app.json: No such file or "
                "directory");
  // Usage errors repeat the usage, bad values do not.
  CHECK_THAT(run("apps", {"list", "--bogus"}).err, Catch::Contains("usage: respaldo apps"));
  CHECK_THAT(run("apps", {"register", "--file", "/nonexistent/app.json"}).err,
             !Catch::Contains("usage:"));
}

TEST_CASE_METHOD(client_fixture,
                 "settings: server, token and CA come from flags or the environment", "[cli]") {
  check_refused(
      run("apps", {"list"}),
      "respaldo apps: no admin token: give --token-file FILE or set RESPALDO_ADMIN_TOKEN");
  const auto bad_url = run("apps", {"list", "--server", "ftp://example.com"});
  CHECK(bad_url.code == 2);
  CHECK_THAT(bad_url.first_err_line(), Catch::StartsWith("respaldo apps: --server: "));
  check_refused(run("apps", {"list", "--server", "http://127.0.0.1:1/?q"}),
                "respaldo apps: --server: the server URL must not have a query");
  const auto no_token = run("jobs", {"list", "--token-file", "/nonexistent/token"});
  CHECK(no_token.code == 2);
  CHECK_THAT(no_token.first_err_line(),
             Catch::StartsWith("respaldo jobs: --token-file: cannot read /nonexistent/token: "));
  const std::string empty = (dir / "empty").string();
  std::ofstream(empty) << "  \n";
  check_refused(run("jobs", {"list", "--token-file", empty}),
                "respaldo jobs: --token-file: " + empty + " is empty");
  const auto no_ca = run("backup", {"x", "--ca-file", "/nonexistent/ca.pem"});
  CHECK(no_ca.code == 2);
  CHECK_THAT(no_ca.first_err_line(), Catch::StartsWith("respaldo backup: --ca-file: "));
  ::setenv("RESPALDO_ADMIN_TOKEN", "has space", 1);
  check_refused(run("apps", {"list"}),
                "respaldo apps: RESPALDO_ADMIN_TOKEN: the token is empty or has characters an "
                "HTTP header cannot carry");
  ::unsetenv("RESPALDO_ADMIN_TOKEN");
}

TEST_CASE_METHOD(client_fixture, "jobs: refused command lines", "[cli]") {
  check_refused(run("jobs", {}), "respaldo jobs: missing subcommand (list, get, cancel)");
  check_refused(run("jobs", {"prune"}),
                "respaldo jobs: unknown subcommand 'prune' (expected list, get, cancel)");
  check_refused(run("jobs", {"get"}), "respaldo jobs: missing job ID");
  check_refused(run("jobs", {"cancel", "1", "2"}), "respaldo jobs: unexpected argument '2'");
  check_refused(run("jobs", {"get", "1", "--limit", "5"}),
                "respaldo jobs: unknown option '--limit'");
  check_refused(run("jobs", {"list", "--limit"}), "respaldo jobs: option --limit needs a value");
  for (const char* bad : {"0", "501", "ten", "-3", ""}) {
    INFO(bad);
    check_refused(
        run("jobs", {"list", "--limit", bad}),
        std::string("respaldo jobs: --limit: expected a whole number 1-500, got '") + bad + "'");
  }
  check_refused(run("jobs", {"list", "--state", "done"}),
                "respaldo jobs: --state: expected queued, running, succeeded, failed or "
                "cancelled, got 'done'");
  check_refused(run("jobs", {"list", "--kind=restore"}),
                "respaldo jobs: --kind: expected backup or verify, got 'restore'");
  check_refused(run("jobs", {"list", "--app="}), "respaldo jobs: --app: expected an app name");
  check_refused(run("jobs", {"list", "--app", "a", "--app", "b"}),
                "respaldo jobs: option --app given more than once");
}

TEST_CASE_METHOD(client_fixture, "backup: refused command lines", "[cli]") {
  check_refused(run("backup", {}), "respaldo backup: missing app NAME");
  check_refused(run("backup", {"a", "b"}), "respaldo backup: unexpected argument 'b'");
  check_refused(run("backup", {"x", "--timeout", "5s"}), "respaldo backup: --timeout needs --wait");
  for (const char* bad : {"soon", "0s", "-5s"}) {
    INFO(bad);
    check_refused(run("backup", {"x", "--wait", "--timeout", bad}),
                  std::string("respaldo backup: --timeout: expected a duration such as 30s, 10m "
                              "or 2h, got '") +
                      bad + "'");
  }
  check_refused(run("backup", {"x", "--wait=yes"}),
                "respaldo backup: option --wait takes no value");
  check_refused(run("backup", {"x", "--wait", "--timeout"}),
                "respaldo backup: option --timeout needs a value");
}

TEST_CASE_METHOD(client_fixture, "restore: refused command lines", "[cli]") {
  const std::string out = (dir / "out").string();
  check_refused(run("restore", {}), "respaldo restore: missing BACKUP_ID");
  check_refused(run("restore", {"b"}),
                "respaldo restore: missing --output FILE (where the backup is written)");
  check_refused(run("restore", {"b", "--output="}),
                "respaldo restore: missing --output FILE (where the backup is written)");
  check_refused(run("restore", {"b", "-o", out, "--output", out}),
                "respaldo restore: option --output given more than once (-o is --output)");
  check_refused(run("restore", {"b", "-o", out, "-o", out}),
                "respaldo restore: option -o given more than once");
  check_refused(run("restore", {"b", "-o"}), "respaldo restore: option -o needs a value");
  check_refused(run("restore", {"b", "--output", dir.string()}),
                "respaldo restore: --output: " + dir.string() + " is a directory");
  check_refused(
      run("restore", {"b", "--output", token_file}),
      "respaldo restore: --output: " + token_file + " already exists (--force replaces it)");
  check_refused(run("restore", {"b", "--output", out, "--force=1"}),
                "respaldo restore: option --force takes no value");
}

TEST_CASE_METHOD(client_fixture, "well-formed command lines reach the network", "[cli]") {
  const std::string out = (dir / "restored").string();
  const std::vector<std::pair<std::string, std::vector<std::string>>> lines{
      {"apps", {"list"}},
      {"apps", {"get", "web"}},
      {"apps", {"delete", "--json", "web"}},
      {"apps", {"register", "--file", token_file}},
      {"jobs", {"list", "--app", "web", "--state=queued", "--kind", "verify", "--limit", "500"}},
      {"jobs", {"get", "42"}},
      {"jobs", {"cancel", "42", "--json"}},
      {"backup", {"web"}},
      {"backup", {"web", "--wait", "--timeout", "30s"}},
      {"restore", {"b1", "--output", out}},
      {"restore", {"b1", "-o", token_file, "--force"}},
  };
  for (const auto& [command, args] : lines) {
    std::string joined = command;
    for (const auto& a : args) joined += " " + a;
    INFO(joined);
    const auto r = run_offline(command, args);
    CHECK(r.code == respaldo::client_exit_failed);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::StartsWith("error: cannot reach the respaldo server at "
                                        "http://127.0.0.1:1: "));
  }
  // A failed restore leaves neither the file nor its .partial behind.
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(out + ".partial"));
}
