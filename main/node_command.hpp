// `taskpipe node`: a stage host that publishes stage pools over CAF networking.
#pragma once

#include <string>
#include <vector>

namespace taskpipe {

/// Runs the command with the words after `node`; returns the exit status.
int node_command(const std::vector<std::string>& args);

} // namespace taskpipe
