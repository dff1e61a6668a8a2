// The in-process task store: SQLite's behaviour without a file (see memory_store.cpp).
#pragma once

#include "store/task_store.hpp"

#include <memory>

namespace taskpipe {

/// An in-process store with the same behaviour as SQLite, for tests and benchmarks.
std::unique_ptr<task_store> make_memory_store();

} // namespace taskpipe
