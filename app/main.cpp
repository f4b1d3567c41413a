// respaldo: dispatches the subcommands; `serve` is composed in serve.cpp, everything else lives in
// the library.
#include <iostream>
#include <string>
#include <vector>

#include "agent.hpp"
#include "respaldo/cli/cli_client.hpp"
#include "respaldo/cli/cron_command.hpp"
#include "respaldo/cli/retention_command.hpp"
#include "serve.hpp"

namespace {

constexpr const char* usage_text =
    "usage: respaldo <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve                 run the backup orchestrator (respaldo serve --help)\n"
    "  agent                 serve an app's backup endpoints (respaldo agent --help)\n"
    "  cron next EXPR        print the next fire times of a cron expression\n"
    "  retention plan        show which backups a retention policy keeps\n"
    "  apps, backup, jobs,   client commands for a running server (respaldo apps --help, ...)\n"
    "  restore, status\n"
    "\n"
    "  respaldo --version    print the version\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace respaldo;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << usage_text;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "respaldo " << RESPALDO_VERSION << "\n";
    return 0;
  }
  const std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "serve") return run_serve(rest);
  if (command == "agent") return run_agent(rest);
  if (command == "cron") return run_cron_command(rest, std::cout, std::cerr);
  if (command == "retention") return run_retention_command(rest, std::cin, std::cout, std::cerr);
  if (is_client_command(command)) return run_client_command(command, rest, std::cout, std::cerr);
  std::cerr << "error: unknown command \"" << command << "\"\n\n" << usage_text;
  return 2;
}
