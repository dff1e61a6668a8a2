#include "store/sqlite/writers.hpp"

namespace taskpipe::sqlite {

const std::string& batch_names::operator()(std::uint64_t batch) {
  if (!have_ || batch != batch_) {
    text_ = batch_id_text(batch);
    batch_ = batch;
    have_ = true;
  }
  return text_;
}

row_writer::row_writer(store_parts parts, row_table table) : p_(parts), table_(table) {
  auto sql = std::string{"SELECT 1 FROM "} + table_.name + " WHERE batch_id = ?1 AND task_id = ?2";
  exists_ = p_.db.prepare(sql.c_str());
}

row_writer::~row_writer() = default;

caf::error row_writer::row_inserted(const task_envelope&, const std::string&) {
  return caf::none;
}

void row_writer::chunk_scanned(const std::vector<task_envelope>&) {
}

bool row_writer::groups(const task_envelope&, const snapshot_row&) {
  return true;
}

caf::error row_writer::insert_failed() const {
  return storage_error(std::string{table_.name} + " insert failed: " + p_.db.errmsg());
}

caf::error row_writer::no_row_written(const std::string& batch, std::int64_t id) {
  int found;
  {
    auto* s = exists_.get();
    reset_on_exit guard{s};
    bind_text(s, 1, batch);
    sqlite3_bind_int64(s, 2, id);
    auto rc = p_.db.step(s);
    found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
  }
  switch (found) {
    case 1:
      return caf::none;
    case 0:
      break;
    default:
      return storage_error(std::string{table_.name} + " lookup failed: " + p_.db.errmsg());
  }
  switch (task_exists(p_.db, p_.st, id)) {
    case 0:
      return storage_error("task " + std::to_string(id) + " does not exist any more");
    case 1:
      return storage_error(std::string{table_.name} + " row for task " + std::to_string(id)
                           + " was not written (the database ignored the insert)");
    default:
      return storage_error("task lookup failed: " + p_.db.errmsg());
  }
}

void row_writer::write_chunk(const std::vector<task_envelope>& tasks,
                             std::vector<caf::error>& results) {
  bool scanned = !p_.txn.check() && p_.snapshot.load(tasks, table_.changes_task ? scan::with_order : scan::values);
  if (scanned)
    chunk_scanned(tasks);
  pending_.clear();
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto id = tasks[i].update.id;
    auto* row = scanned ? p_.snapshot.find(id) : nullptr;
    if (row && groups(tasks[i], *row)) {
      pending_.push_back({i, row});
      // Update changes the task (or tries to): a later task of the chunk with the same id reads
      // it afresh, after the pending rows are written.
      if (table_.changes_task)
        row->stale = true;
      if (pending_.size() == group_rows)
        flush_rows(tasks, results);
      continue;
    }
    flush_rows(tasks, results);
    results[i] = write_task(tasks[i], row);
    if (row && table_.changes_task)
      row->stale = true;
  }
  flush_rows(tasks, results);
}

caf::error row_writer::write_task(const task_envelope& t, const snapshot_row* row) {
  if (p_.txn.check())
    return p_.txn.check();
  auto result = write_one(t, row);
  p_.txn.note(result);
  return result;
}

sqlite3_stmt* row_writer::group_statement(std::size_t n) {
  if (groups_.size() <= n)
    groups_.resize(n + 1);
  if (groups_[n])
    return groups_[n].get();
  // ?1 is the group's timestamp (last in each row); the first row's leading parameter is
  // numbered ?2 so that the unnumbered ones after it are 3, 4, ... in order.
  std::string sql = table_.insert_head;
  sql.reserve(sql.size() + n * 20 + 32);
  for (std::size_t j = 0; j < n; ++j) {
    if (j > 0)
      sql += ',';
    sql += table_.row_values;
  }
  if (table_.changes_task)
    sql += " RETURNING task_id"; // exactly the rows inserted: their tasks get changed
  auto first = sql.find("(?,");
  sql.replace(first, 3, "(?2,");
  groups_[n] = p_.db.try_prepare(sql);
  return groups_[n].get();
}

/// Writes the pending rows with one multi-row statement; results are exactly what write_one()
/// gives task by task. A retry (fewer rows written than sent) is sorted out row by row; a
/// statement that fails (a row the database refuses) is redone row by row, so that only the
/// refused task fails.
void row_writer::flush_rows(const std::vector<task_envelope>& tasks,
                            std::vector<caf::error>& results) {
  if (pending_.empty())
    return;
  auto n = pending_.size();
  if (p_.txn.check()) {
    for (const auto& p : pending_)
      results[p.index] = p_.txn.check();
    pending_.clear();
    return;
  }
  auto* s = group_statement(n);
  if (!s) {
    rows_one_by_one(tasks, results);
    return;
  }
  if (pending_batch_.size() < n)
    pending_batch_.resize(n);
  inserted_.assign(n, 0);
  int rc;
  int changes = 0;
  std::string failure;
  {
    reset_on_exit guard{s};
    bind_text(s, 1, p_.txn.now());
    int k = 2;
    for (std::size_t j = 0; j < n; ++j) {
      const auto& t = tasks[pending_[j].index];
      pending_batch_[j] = p_.batch_text(t.batch);
      bind_text(s, k++, pending_batch_[j]);
      sqlite3_bind_int64(s, k++, t.update.id);
      bind_values(s, k, j, t, *pending_[j].row);
    }
    std::size_t cursor = 0;
    while ((rc = p_.db.step(s)) == SQLITE_ROW) {
      // RETURNING: mark the row inserted (the group's ids are distinct in update).
      auto id = sqlite3_column_int64(s, 0);
      for (std::size_t tries = 0; tries < n; ++tries, cursor = (cursor + 1) % n)
        if (tasks[pending_[cursor].index].update.id == id) {
          inserted_[cursor] = 1;
          break;
        }
    }
    if (rc == SQLITE_DONE)
      changes = sqlite3_changes(p_.db.get());
    else
      failure = p_.db.errmsg();
  }
  if (rc != SQLITE_DONE) {
    redo_failed_rows(tasks, results, failure);
    return;
  }
  if (table_.changes_task) {
    for (std::size_t j = 0; j < n; ++j) {
      const auto& t = tasks[pending_[j].index];
      caf::error r;
      if (p_.txn.check())
        r = p_.txn.check();
      else if (!inserted_[j])
        r = no_row_written(pending_batch_[j], t.update.id);
      else
        r = row_inserted(t, pending_batch_[j]);
      p_.txn.note(r);
      results[pending_[j].index] = std::move(r);
    }
  } else if (static_cast<std::size_t>(changes) < n) {
    // Some rows were there already (a retry): check each one as write_one() would.
    for (std::size_t j = 0; j < n; ++j) {
      auto r = p_.txn.check() ? p_.txn.check()
                                : no_row_written(pending_batch_[j],
                                                 tasks[pending_[j].index].update.id);
      p_.txn.note(r);
      results[pending_[j].index] = std::move(r);
    }
  }
  pending_.clear();
}

void row_writer::rows_one_by_one(const std::vector<task_envelope>& tasks,
                                 std::vector<caf::error>& results) {
  for (const auto& p : pending_)
    results[p.index] = write_task(tasks[p.index], p.row);
  pending_.clear();
}

/// The multi-row statement failed and wrote nothing. If only the statement was rolled back,
/// redoing the rows one by one fails just the refused task. If the whole transaction was rolled
/// back, the rows are replayed in a transaction of their own (rolled back afterwards) to tell
/// which task the database refused: tasks before it succeed (and fail at commit), later ones
/// fail as rolled back, as write_one() would report.
void row_writer::redo_failed_rows(const std::vector<task_envelope>& tasks,
                                  std::vector<caf::error>& results, const std::string& failure) {
  if (!p_.db.autocommit()) {
    rows_one_by_one(tasks, results);
    return;
  }
  auto reason = std::string{table_.name} + " insert failed: " + failure;
  if (p_.db.step_once(p_.st.begin.get()) == SQLITE_DONE) {
    rows_one_by_one(tasks, results);
    if (!p_.db.autocommit())
      p_.db.step_once(p_.st.rollback.get());
  } else {
    bool first = true;
    for (const auto& p : pending_) {
      results[p.index] = storage_error(first ? reason
                                             : "the transaction was rolled back: " + reason);
      first = false;
    }
    pending_.clear();
  }
  p_.txn.fail(storage_error("the transaction was rolled back: " + reason));
}

} // namespace taskpipe::sqlite
