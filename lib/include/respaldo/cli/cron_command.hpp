// `respaldo cron next EXPR [-n N] [--after RFC3339] [--tz ZONE]`, the command-line front end of
// plan/cron.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace respaldo {

// `args` excludes "respaldo cron". Prints the next N (default 5) fire times after --after
// (default: now), one a line, in RFC 3339 UTC ("...Z"), or with --tz as local times with their
// offset. Returns 0, or 2 after writing a message naming the bad argument, flag or expression
// field to `err`. --help prints the usage.
int run_cron_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace respaldo
