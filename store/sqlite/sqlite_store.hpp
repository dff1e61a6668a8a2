// The SQLite task store (see sqlite_store.cpp for the schema and how it writes).
#pragma once

#include "store/task_store.hpp"

#include <functional>
#include <memory>

struct sqlite3;

namespace taskpipe {

/// Test hooks, called with the store's own connection.
struct sqlite_test_hooks {
  std::function<void(sqlite3*)> opened;              ///< once, by open_sqlite_store, when ready
  std::function<void(sqlite3*, stage)> before_chunk; ///< before each chunk's stage work
  std::function<void(sqlite3*)> before_commit;       ///< before each group's COMMIT
};

/// A SQLite store at `opts.location` (created if missing; WAL). The error names the file and
/// SQLite's reason when it cannot be opened.
caf::expected<std::unique_ptr<task_store>> open_sqlite_store(const store_options& opts,
                                                             sqlite_test_hooks hooks = {});

} // namespace taskpipe
