// The batch `taskpipe run` generates, shared with bench/store_bound (the same tasks for its bound).
#pragma once

#include "messages/task.hpp"

#include <cstdint>

namespace taskpipe {

/// Updates for ids 1..n: types cycle Epic, Story, SubTask, TechTask; summary "Updated task <id>",
/// empty (invalid) for every id that `invalid_every` (> 0) divides.
batch_request generate_batch(std::int64_t n, std::int64_t invalid_every = 0);

} // namespace taskpipe
