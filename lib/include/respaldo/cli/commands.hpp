// The client commands, one source file each; `args` excludes "respaldo <command>".
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace respaldo::cli {

int apps_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int jobs_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int backup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int restore_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace respaldo::cli
