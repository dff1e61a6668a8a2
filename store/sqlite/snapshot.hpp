// A chunk's tasks as one range scan of the tasks table found them.
#pragma once

#include "store/sqlite/schema.hpp"

#include "messages/task.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe::sqlite {

/// One task as the chunk's scan found it.
struct snapshot_row {
  std::int64_t version = 0;
  std::uint32_t type_at = 0;
  std::uint32_t type_size = 0;
  std::uint32_t summary_at = 0;
  std::uint32_t summary_size = 0;
  std::uint64_t newest_batch = 0; ///< scan::with_order: the newest batch applied to it, 0 if none
  bool present = false; ///< the task exists
  bool stale = false;   ///< written since the scan: use the per-task statements
};

/// Reads a batch_id column into its number (NULL is 0); false if it holds something else.
bool batch_column(sqlite3_stmt* s, int col, std::uint64_t& batch);

/// What a scan reads of each task.
enum class scan : std::uint8_t {
  ids,        ///< whether it exists
  values,     ///< and its type, summary and version
  with_order, ///< and the newest batch applied to it (Update's per-key order)
};

/// Chunks usually hold consecutive ids: one range scan over them then answers for all of their
/// tasks, instead of one lookup per task.
class chunk_snapshot {
public:
  chunk_snapshot(connection& db, statements& st) : db_(db), st_(st) {
  }

  /// Scans the chunk's tasks; false if the ids spread more than 4x the chunk's size + 64 or the
  /// scan failed (the caller then goes task by task, whose statements report any error).
  bool load(const std::vector<task_envelope>& tasks, scan what);

  /// The scanned row of a task, if the task exists and was not written since the scan.
  snapshot_row* find(std::int64_t id);

  std::string_view type_of(const snapshot_row& row) const {
    return std::string_view{text_}.substr(row.type_at, row.type_size);
  }

  std::string_view summary_of(const snapshot_row& row) const {
    return std::string_view{text_}.substr(row.summary_at, row.summary_size);
  }

private:
  /// Copies a text column to text_; false if it is NULL or does not fit the offsets.
  bool append_text(sqlite3_stmt* s, int col, std::uint32_t& at, std::uint32_t& size);

  connection& db_;
  statements& st_;
  std::int64_t first_ = 0;
  std::vector<snapshot_row> rows_; ///< id - first_ -> row
  std::string text_;               ///< the rows' type and summary texts, back to back
};

} // namespace taskpipe::sqlite
