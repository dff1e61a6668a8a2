// The SQLite task store (see sqlite_store.cpp for the schema and how it writes).
#pragma once

#include "store/task_store.hpp"

#include <memory>

namespace taskpipe {

/// A SQLite store at `opts.location` (created if missing; WAL). The error names the file and
/// SQLite's reason when it cannot be opened.
caf::expected<std::unique_ptr<task_store>> open_sqlite_store(const store_options& opts);

} // namespace taskpipe
