// `respaldo agent`: the composition root of the app-side sidecar.
#pragma once

#include <string>
#include <vector>

namespace respaldo {

// Parses the agent options, serves the app contract until SIGINT/SIGTERM and returns the exit
// status (0 after a graceful stop, 1 when start-up fails, 2 for a bad option or a missing token).
int run_agent(const std::vector<std::string>& args);

}  // namespace respaldo
