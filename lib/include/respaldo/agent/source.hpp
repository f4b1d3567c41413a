// What each --source runs: the program and arguments, the capabilities' `types`, and which exit
// statuses count as success. Sans-io: the export runner starts what this describes.
#pragma once

#include <string>
#include <vector>

#include "respaldo/agent/child.hpp"
#include "respaldo/agent/config.hpp"

namespace respaldo {

struct source_plan {
  child_spec spec;
  std::vector<std::string> types;  // capabilities `types`
  // GNU tar exits 1 when a file changed while it was read: the archive is complete, and a live
  // tree always changes, so that is a warning, not a failure.
  bool exit_one_is_warning = false;
  // The output is gzip-compressed by the agent on its way to the spool (format sql.gz).
  bool gzip = false;
};

source_plan plan_source(const agent_config& cfg);

}  // namespace respaldo
