// Audit's store work: one audit row per (batch, task) with the task's old and requested values.
#include "store/sqlite/writers.hpp"

namespace taskpipe::sqlite {

audit_writer::audit_writer(store_parts parts)
  : row_writer(parts, {"audit",
                       "INSERT OR IGNORE INTO audit(batch_id, task_id, old_type, old_summary, "
                       "new_type, new_summary, at) VALUES",
                       "(?,?,?,?,?,?,?1)", false}),
    insert_select_(p_.db.prepare(
      "INSERT OR IGNORE INTO audit(batch_id, task_id, old_type, old_summary, new_type, "
      "new_summary, at) SELECT ?1, id, type, summary, ?2, ?3, ?4 FROM tasks WHERE id = ?5")),
    insert_values_(p_.db.prepare(
      "INSERT OR IGNORE INTO audit(batch_id, task_id, old_type, old_summary, new_type, "
      "new_summary, at) VALUES(?1, ?5, ?6, ?7, ?2, ?3, ?4)")) {
}

caf::error audit_writer::write_one(const task_envelope& t, const snapshot_row* row) {
  const auto& batch = p_.batch_text(t.batch);
  auto id = t.update.id;
  {
    auto* s = row ? insert_values_.get() : insert_select_.get();
    reset_on_exit guard{s};
    bind_text(s, 1, batch);
    bind_optional(s, 2, t.update.type);
    bind_optional(s, 3, t.update.summary);
    bind_text(s, 4, p_.txn.now());
    sqlite3_bind_int64(s, 5, id);
    if (row) {
      bind_text(s, 6, p_.snapshot.type_of(*row));
      bind_text(s, 7, p_.snapshot.summary_of(*row));
    }
    if (p_.db.step(s) != SQLITE_DONE)
      return insert_failed();
    if (sqlite3_changes(p_.db.get()) > 0)
      return caf::none;
  }
  return no_row_written(batch, id);
}

void audit_writer::bind_values(sqlite3_stmt* s, int& k, std::size_t, const task_envelope& t,
                               const snapshot_row& row) {
  bind_text(s, k++, p_.snapshot.type_of(row));
  bind_text(s, k++, p_.snapshot.summary_of(row));
  bind_optional(s, k++, t.update.type);
  bind_optional(s, k++, t.update.summary);
}

} // namespace taskpipe::sqlite
