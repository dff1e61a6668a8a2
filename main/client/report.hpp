// What the client commands show: the progress line while a batch runs (on a terminal), and the
// summary of a batch status.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace taskpipe::client {

/// One line, at most `width` columns, without a newline:
///   [###############---------------]  50%  500/1000  1234 tasks/s  ETA 1s  failed 3
/// from a status (total, succeeded, failed, pending, elapsed_ms).
std::string progress_line(const nlohmann::json& status, std::size_t width);

/// The human summary of a status or report: its totals, failures counted by code and the first
/// `first_failures` failures.
std::string summary(const nlohmann::json& status, std::size_t first_failures = 10);

} // namespace taskpipe::client
