#include "store/sqlite/snapshot.hpp"

#include <algorithm>

namespace taskpipe::sqlite {

namespace {

/// The chunk's id range; false if it spreads much wider than the chunk (do it task by task).
bool dense_ids(const std::vector<task_envelope>& tasks, std::int64_t& first, std::int64_t& last) {
  if (tasks.empty())
    return false;
  first = last = tasks.front().update.id;
  for (const auto& t : tasks) {
    first = std::min(first, t.update.id);
    last = std::max(last, t.update.id);
  }
  auto span = static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first);
  return span < 4 * static_cast<std::uint64_t>(tasks.size()) + 64;
}

std::size_t offset(std::int64_t id, std::int64_t first) {
  return static_cast<std::size_t>(static_cast<std::uint64_t>(id)
                                  - static_cast<std::uint64_t>(first));
}

} // namespace

bool chunk_snapshot::load(const std::vector<task_envelope>& tasks, scan what) {
  std::int64_t first = 0;
  std::int64_t last = 0;
  if (!dense_ids(tasks, first, last))
    return false;
  first_ = first;
  rows_.assign(offset(last, first) + 1, snapshot_row{});
  text_.clear();
  auto* s = what == scan::ids      ? st_.ids_in_range.get()
            : what == scan::values ? st_.rows_in_range.get()
                                   : st_.rows_in_range_with_order.get();
  reset_on_exit guard{s};
  sqlite3_bind_int64(s, 1, first);
  sqlite3_bind_int64(s, 2, last);
  int rc;
  while ((rc = db_.step(s)) == SQLITE_ROW) {
    auto id = sqlite3_column_int64(s, 0);
    if (id < first || id > last)
      return false; // cannot happen; do not trust the scan then
    auto& row = rows_[offset(id, first)];
    row.present = true;
    if (what == scan::ids)
      continue;
    row.version = sqlite3_column_int64(s, 3);
    if (!append_text(s, 1, row.type_at, row.type_size)
        || !append_text(s, 2, row.summary_at, row.summary_size))
      return false;
    if (what == scan::with_order && !batch_column(s, 4, row.newest_batch))
      return false;
  }
  return rc == SQLITE_DONE;
}

bool chunk_snapshot::append_text(sqlite3_stmt* s, int col, std::uint32_t& at,
                                 std::uint32_t& size) {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  if (!p)
    return false;
  auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, col));
  if (text_.size() + n > 0xFFFF'FFFFu)
    return false;
  at = static_cast<std::uint32_t>(text_.size());
  size = static_cast<std::uint32_t>(n);
  text_.append(p, n);
  return true;
}

bool batch_column(sqlite3_stmt* s, int col, std::uint64_t& batch) {
  batch = 0;
  if (sqlite3_column_type(s, col) == SQLITE_NULL)
    return true;
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p && parse_batch_id(p, batch);
}

snapshot_row* chunk_snapshot::find(std::int64_t id) {
  if (id < first_)
    return nullptr;
  auto at = static_cast<std::uint64_t>(id) - static_cast<std::uint64_t>(first_);
  if (at >= rows_.size())
    return nullptr;
  auto& row = rows_[static_cast<std::size_t>(at)];
  return row.present && !row.stale ? &row : nullptr;
}

} // namespace taskpipe::sqlite
