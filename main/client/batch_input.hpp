// What `taskpipe submit FILE|-` reads: a request body as the API takes it, or JSON lines of tasks.
#pragma once

#include <stdexcept>
#include <string>

namespace taskpipe::client {

/// The body to POST for `input`: the input itself when it is one JSON object with a "tasks" key
/// (the API's format; the node checks the rest), otherwise JSON lines, one task object per line
/// (blank lines skipped), wrapped as {"tasks":[...]}. Throws std::invalid_argument naming the
/// line that is neither.
std::string batch_body(const std::string& input);

/// The content of PATH, or of standard input for "-". Throws std::invalid_argument.
std::string read_input(const std::string& path);

} // namespace taskpipe::client
