// Dispatch of the client commands; each lives in its own file (apps, jobs, backup, restore).
#include "respaldo/cli/cli_client.hpp"

#include <ostream>

#include "respaldo/cli/commands.hpp"

namespace respaldo {

bool is_client_command(std::string_view command) {
  return command == "apps" || command == "backup" || command == "jobs" || command == "restore" ||
         command == "status" || command == "drill";
}

int run_client_command(const std::string& command, const std::vector<std::string>& args,
                       std::ostream& out, std::ostream& err) {
  if (command == "apps") return cli::apps_command(args, out, err);
  if (command == "jobs") return cli::jobs_command(args, out, err);
  if (command == "backup") return cli::backup_command(args, out, err);
  if (command == "restore") return cli::restore_command(args, out, err);
  if (command == "status") return cli::status_command(args, out, err);
  if (command == "drill") return cli::drill_command(args, out, err);
  err << "respaldo: unknown client command '" << command << "'\n";
  return client_exit_usage;
}

}  // namespace respaldo
