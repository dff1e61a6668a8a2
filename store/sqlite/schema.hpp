// The SQLite store's tables and the statements its parts share.
#pragma once

#include "store/sqlite/connection.hpp"

namespace taskpipe::sqlite {

/// Creates the contract's tables and task_order (per-key order) where they are missing, and
/// upgrades a file of an earlier version.
caf::error create_schema(connection& db);

/// Statements that more than one part of the store runs, prepared once.
struct statements {
  explicit statements(connection& db);

  statement begin;    ///< BEGIN IMMEDIATE
  statement commit;   ///< COMMIT
  statement rollback; ///< ROLLBACK
  statement task_exists;   ///< ?1 id: a row if the task exists
  statement ids_in_range;  ///< ?1..?2: the ids of the tasks in the range
  statement rows_in_range; ///< ?1..?2: id, type, summary, version of the tasks in the range
  /// ?1..?2: the same plus the newest batch_id applied to each task (NULL if none)
  statement rows_in_range_with_order;
  statement last_batch;    ///< the largest batch_id of any row (NULL if none)
  statement find;          ///< ?1 id: type, summary, version, updated_at
  statement counts;        ///< the row count of every table
  statement seed;          ///< ?1..?2 ids, ?3 timestamp: creates the missing tasks
};

} // namespace taskpipe::sqlite
