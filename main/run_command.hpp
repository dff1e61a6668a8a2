// `taskpipe run`: one generated batch through the in-process pipeline, then a summary.
#pragma once

#include <string>
#include <vector>

namespace taskpipe {

/// Runs the command with the words after `run`; returns the exit status.
int run_command(const std::vector<std::string>& args);

} // namespace taskpipe
