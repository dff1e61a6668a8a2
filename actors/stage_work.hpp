// The work of each stage that needs no store: Validate's rules on the request itself. The store
// work (not_found, audit, update, outbox) runs in the store actor.
#pragma once

#include "messages/outcome.hpp"
#include "messages/task.hpp"

#include <caf/optional.hpp>

#include <functional>
#include <string>

namespace taskpipe {

/// Test hook called by a stage worker for every task before its work; a throw is a bug in the
/// stage (the task fails with `internal`, the worker is replaced).
using fault_injector = std::function<void(stage, const task_envelope&)>;

/// Maximum summary length in Unicode code points.
inline constexpr std::size_t max_summary_code_points = 255;

/// Validate's checks that need no store, in the contract's order: duplicate_in_batch,
/// empty_update, invalid_type, invalid_summary. None if the task passes them.
caf::optional<task_failure> check_request(const task_envelope& t);

} // namespace taskpipe
