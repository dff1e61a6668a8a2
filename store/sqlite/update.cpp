// Update's store work: records (batch, task) in applied_updates and, when that row is new,
// changes the task (requested fields, version + 1, updated_at).
//
// Per-key order: batch numbers are the admission order, and task_order holds each task's newest
// applied batch (one row per task, changed with the task). A write from an older batch than the
// task's newest is recorded as superseded and leaves the task alone, so the batch accepted last
// wins whatever order chunks arrive in. Before a task changes, its audit row's old values are
// set to the task as this transaction sees it (another batch may have changed it since Audit
// read it); checked once per chunk, written only where they differ.
#include "store/sqlite/writers.hpp"

#include <algorithm>

namespace taskpipe::sqlite {

update_writer::update_writer(store_parts parts)
  : row_writer(parts, {"applied_updates",
                       "INSERT OR IGNORE INTO applied_updates(batch_id, task_id, version, at) "
                       "VALUES",
                       "(?,?,?,?1)", true}),
    insert_select_(p_.db.prepare(
      "INSERT OR IGNORE INTO applied_updates(batch_id, task_id, version, at) "
      "VALUES(?1, ?3, (SELECT version + 1 FROM tasks WHERE id = ?3), ?2)")),
    insert_values_(p_.db.prepare("INSERT OR IGNORE INTO applied_updates(batch_id, task_id, "
                                 "version, at) VALUES(?1, ?3, ?4, ?2)")),
    insert_superseded_(p_.db.prepare(
      "INSERT OR IGNORE INTO applied_updates(batch_id, task_id, version, at, superseded_by) "
      "VALUES(?1, ?3, (SELECT version FROM tasks WHERE id = ?3), ?2, ?4)")),
    delete_(p_.db.prepare("DELETE FROM applied_updates WHERE batch_id = ?1 AND task_id = ?2")),
    task_update_(p_.db.prepare(
      "UPDATE tasks SET type = coalesce(?1, type), summary = coalesce(?2, summary), "
      "version = version + 1, updated_at = ?3 WHERE id = ?4")),
    newest_batch_(
      p_.db.prepare("SELECT (SELECT batch_id FROM task_order WHERE task_id = ?1)")),
    order_(p_.db.prepare("INSERT INTO task_order(task_id, batch_id) VALUES(?1, ?2) "
                         "ON CONFLICT(task_id) DO UPDATE SET batch_id = excluded.batch_id")),
    stale_audits_(p_.db.prepare(
      "SELECT a.task_id FROM audit a JOIN tasks t ON t.id = a.task_id WHERE a.batch_id = ?1 "
      "AND a.task_id BETWEEN ?2 AND ?3 "
      "AND (a.old_type IS NOT t.type OR a.old_summary IS NOT t.summary)")),
    correct_audit_(p_.db.prepare(
      "UPDATE audit SET old_type = t.type, old_summary = t.summary "
      "FROM (SELECT type, summary FROM tasks WHERE id = ?2) AS t "
      "WHERE audit.batch_id = ?1 AND audit.task_id = ?2 "
      "AND (audit.old_type IS NOT t.type OR audit.old_summary IS NOT t.summary)")) {
}

void update_writer::chunk_scanned(const std::vector<task_envelope>& tasks) {
  stale_audit_.clear();
  auto batch = tasks.front().batch;
  auto [lo, hi] = std::minmax_element(tasks.begin(), tasks.end(), [](auto& a, auto& b) {
    return a.update.id < b.update.id;
  });
  if (std::any_of(tasks.begin(), tasks.end(), [&](auto& t) { return t.batch != batch; }))
    return; // chunks hold one batch; if not, every task is checked on its own
  audit_first_ = lo->update.id;
  std::vector<char> stale(static_cast<std::size_t>(hi->update.id - lo->update.id) + 1, 0);
  auto* s = stale_audits_.get();
  reset_on_exit guard{s};
  bind_text(s, 1, p_.batch_text(batch));
  sqlite3_bind_int64(s, 2, lo->update.id);
  sqlite3_bind_int64(s, 3, hi->update.id);
  int rc;
  while ((rc = p_.db.step(s)) == SQLITE_ROW) {
    auto at = sqlite3_column_int64(s, 0) - audit_first_;
    if (at < 0 || static_cast<std::size_t>(at) >= stale.size())
      return; // cannot happen; do not trust the check then
    stale[static_cast<std::size_t>(at)] = 1;
  }
  if (rc == SQLITE_DONE)
    stale_audit_ = std::move(stale);
}

bool update_writer::groups(const task_envelope& t, const snapshot_row& row) {
  if (row.newest_batch >= t.batch)
    return row.newest_batch == t.batch; // a retry: the insert is ignored; else superseded
  if (stale_audit_.empty())
    return false;
  return stale_audit_[static_cast<std::size_t>(t.update.id - audit_first_)] == 0;
}

caf::error update_writer::supersede(const task_envelope& t, const std::string& batch,
                                    std::uint64_t newest) {
  auto* s = insert_superseded_.get();
  reset_on_exit guard{s};
  auto newest_text = batch_id_text(newest);
  bind_text(s, 1, batch);
  bind_text(s, 2, p_.txn.now());
  sqlite3_bind_int64(s, 3, t.update.id);
  bind_text(s, 4, newest_text);
  if (p_.db.step(s) != SQLITE_DONE)
    return insert_failed();
  if (sqlite3_changes(p_.db.get()) == 0)
    return no_row_written(batch, t.update.id);
  return caf::none;
}

caf::error update_writer::correct_audit(const std::string& batch, std::int64_t id) {
  auto* s = correct_audit_.get();
  reset_on_exit guard{s};
  bind_text(s, 1, batch);
  sqlite3_bind_int64(s, 2, id);
  if (p_.db.step(s) != SQLITE_DONE)
    return storage_error("correcting the audit row failed: " + p_.db.errmsg());
  return caf::none;
}

caf::error update_writer::write_one(const task_envelope& t, const snapshot_row* row) {
  const auto& batch = p_.batch_text(t.batch);
  auto id = t.update.id;
  std::uint64_t newest = 0;
  if (row) {
    newest = row->newest_batch;
  } else {
    auto* s = newest_batch_.get();
    reset_on_exit guard{s};
    sqlite3_bind_int64(s, 1, id);
    if (p_.db.step(s) != SQLITE_ROW || !batch_column(s, 0, newest))
      return storage_error("reading the task's newest update failed: " + p_.db.errmsg());
  }
  if (newest > t.batch)
    return supersede(t, batch, newest);
  if (newest < t.batch) // else a retry, whose insert is ignored: the audit row is right already
    if (auto err = correct_audit(batch, id))
      return err;
  {
    auto* s = row ? insert_values_.get() : insert_select_.get();
    reset_on_exit guard{s};
    bind_text(s, 1, batch);
    bind_text(s, 2, p_.txn.now());
    sqlite3_bind_int64(s, 3, id);
    if (row)
      sqlite3_bind_int64(s, 4, row->version + 1);
    if (p_.db.step(s) != SQLITE_DONE)
      return insert_failed();
    if (sqlite3_changes(p_.db.get()) == 0)
      return no_row_written(batch, id);
  }
  return change_task(t, batch);
}

void update_writer::bind_values(sqlite3_stmt* s, int& k, std::size_t, const task_envelope&,
                                const snapshot_row& row) {
  sqlite3_bind_int64(s, k++, row.version + 1);
}

caf::error update_writer::row_inserted(const task_envelope& t, const std::string& batch) {
  return change_task(t, batch);
}

caf::error update_writer::change_task(const task_envelope& t, const std::string& batch) {
  auto id = t.update.id;
  std::string failure;
  {
    auto* s = task_update_.get();
    reset_on_exit guard{s};
    bind_optional(s, 1, t.update.type);
    bind_optional(s, 2, t.update.summary);
    bind_text(s, 3, p_.txn.now());
    sqlite3_bind_int64(s, 4, id);
    if (p_.db.step(s) == SQLITE_DONE)
      return record_order(id, batch);
    failure = "task update failed: " + p_.db.errmsg();
  }
  // Take back the applied_updates row so that a retry applies the change.
  if (!p_.db.autocommit()) {
    auto* s = delete_.get();
    reset_on_exit guard{s};
    bind_text(s, 1, batch);
    sqlite3_bind_int64(s, 2, id);
    if (p_.db.step(s) != SQLITE_DONE)
      p_.txn.fail(storage_error(failure + "; undoing its applied_updates row failed too: "
                                + p_.db.errmsg()));
  }
  return storage_error(std::move(failure));
}

caf::error update_writer::record_order(std::int64_t id, const std::string& batch) {
  auto* s = order_.get();
  reset_on_exit guard{s};
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, batch);
  if (p_.db.step(s) == SQLITE_DONE)
    return caf::none;
  // The task has changed already: only the whole group can be taken back.
  auto err = storage_error("recording the task's newest batch failed: " + p_.db.errmsg());
  p_.txn.fail(err);
  return err;
}

} // namespace taskpipe::sqlite
