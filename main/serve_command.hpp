// `taskpipe serve`: the HTTP batch API on one node.
#pragma once

#include <string>
#include <vector>

namespace taskpipe {

/// Runs `taskpipe serve`; `args` are the words after `serve`. Returns the exit status: 0 after a
/// drain (SIGTERM/SIGINT) or --help, 1 on a startup failure (or a second signal: exits at once),
/// 2 for a bad command line.
int serve_command(const std::vector<std::string>& args);

} // namespace taskpipe
