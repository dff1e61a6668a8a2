// Update's store work: records (batch, task) in applied_updates and, when that row is new,
// changes the task (requested fields, version + 1, updated_at).
#include "store/sqlite/writers.hpp"

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
    delete_(p_.db.prepare("DELETE FROM applied_updates WHERE batch_id = ?1 AND task_id = ?2")),
    task_update_(p_.db.prepare(
      "UPDATE tasks SET type = coalesce(?1, type), summary = coalesce(?2, summary), "
      "version = version + 1, updated_at = ?3 WHERE id = ?4")) {
}

caf::error update_writer::write_one(const task_envelope& t, const snapshot_row* row) {
  const auto& batch = p_.batch_text(t.batch);
  auto id = t.update.id;
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
      return caf::none;
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

} // namespace taskpipe::sqlite
