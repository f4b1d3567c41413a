// `respaldo retention plan --policy JSON [--tz ZONE]`, the command-line front end of
// plan/retention.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace respaldo {

// `args` excludes "respaldo retention". Reads RFC 3339 timestamps, one a line, from `in` (blank
// lines are skipped), and prints one line per timestamp, in input order, the timestamp as given:
//   keep 2025-06-18T02:00:00Z newest daily:2025-06-18 weekly:2025-W25
//   delete 2025-06-11T02:00:00Z
// Equal timestamps are ordered by input position (a later line is the newer). Returns 0, or 2 with
// a message on `err` naming the flag or the input line on bad usage or input (nothing is printed on
// `out` then).
int run_retention_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                          std::ostream& err);

}  // namespace respaldo
