// Runs a helper program of a client command (pg_restore, psql, tar) to its end: the command line
// is blocking by nature, so this waits, reading stdout and stderr together without deadlocking.
#pragma once

#include <string>
#include <vector>

namespace respaldo::cli {

struct program_result {
  bool started = false;
  int exit_status = -1;          // -1: killed by a signal or not started
  std::string out;               // stdout, up to a bound (16 MiB)
  std::string err_tail;          // the last 2 KiB of stderr
  std::string describe() const;  // "exit status 1: <stderr tail>" or why it did not start
};

// argv[0] is looked up in PATH. stdin is `stdin_path` (default /dev/null); with `stdout_path`
// stdout goes to that file (created 0600) instead of `out`.
program_result run_program(const std::vector<std::string>& argv,
                           const std::string& stdin_path = "/dev/null",
                           const std::string& stdout_path = "");

}  // namespace respaldo::cli
