// `respaldo serve`: the composition root of the orchestrator.
#pragma once

#include <string>
#include <vector>

namespace respaldo {

// Parses the serve options, builds every service, runs until SIGINT/SIGTERM and returns the exit
// status (0 after a graceful stop, 1 when start-up fails, 2 for a bad option or credentials file).
int run_serve(const std::vector<std::string>& args);

}  // namespace respaldo
