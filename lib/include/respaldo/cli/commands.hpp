// The client commands, one source file each; `args` excludes "respaldo <command>".
#pragma once

#include <boost/json/array.hpp>
#include <iosfwd>
#include <string>
#include <vector>

#include "respaldo/cli/transport.hpp"

namespace respaldo::cli {

int apps_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int jobs_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int backup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int restore_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int drill_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int status_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The verified download of `restore` (size and SHA-256 checked before `output` appears).
int restore_backup(const client_settings& s, client_transport& api, const std::string& id,
                   const std::string& output, bool force, std::ostream& out, std::ostream& err);

// Every page of GET /api/apps appended to `items`; the exit status (0, or 1 reported on `err`).
int list_all_apps(const client_settings& s, client_transport& api, boost::json::array& items,
                  std::ostream& err);

}  // namespace respaldo::cli
