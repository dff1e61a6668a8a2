// Notify's store work: one outbox row per (batch, task) with the task's message as it is now.
#include "store/sqlite/writers.hpp"

namespace taskpipe::sqlite {

notify_writer::notify_writer(store_parts parts)
  : row_writer(parts, {"outbox",
                       "INSERT OR IGNORE INTO outbox(batch_id, task_id, message, created_at) "
                       "VALUES",
                       "(?,?,?,?1)", false}),
    insert_values_(p_.db.prepare("INSERT OR IGNORE INTO outbox(batch_id, task_id, message, "
                                 "created_at) VALUES(?1, ?3, ?4, ?2)")),
    messages_(group_rows) {
}

caf::error notify_writer::write_one(const task_envelope& t, const snapshot_row* row) {
  const auto& batch = p_.batch_text(t.batch);
  auto id = t.update.id;
  message_.clear();
  if (row) {
    append_outbox_message(message_, id, row->version, p_.snapshot.type_of(*row),
                          p_.snapshot.summary_of(*row));
  } else {
    // Not scanned: read the task for its message.
    int rc;
    {
      auto* s = p_.st.find.get();
      reset_on_exit guard{s};
      sqlite3_bind_int64(s, 1, id);
      rc = p_.db.step(s);
      if (rc == SQLITE_ROW)
        append_outbox_message(message_, id, sqlite3_column_int64(s, 2), column_text(s, 0),
                              column_text(s, 1));
      else if (rc != SQLITE_DONE)
        return storage_error("task lookup failed: " + p_.db.errmsg());
    }
    if (rc == SQLITE_DONE)
      return no_row_written(batch, id); // the task is gone: fine only for a retry
  }
  {
    auto* s = insert_values_.get();
    reset_on_exit guard{s};
    bind_text(s, 1, batch);
    bind_text(s, 2, p_.txn.now());
    sqlite3_bind_int64(s, 3, id);
    bind_text(s, 4, message_);
    if (p_.db.step(s) != SQLITE_DONE)
      return insert_failed();
    if (sqlite3_changes(p_.db.get()) > 0)
      return caf::none;
  }
  return no_row_written(batch, id);
}

void notify_writer::bind_values(sqlite3_stmt* s, int& k, std::size_t j, const task_envelope& t,
                                const snapshot_row& row) {
  messages_[j].clear();
  append_outbox_message(messages_[j], t.update.id, row.version, p_.snapshot.type_of(row),
                        p_.snapshot.summary_of(row));
  bind_text(s, k++, messages_[j]);
}

} // namespace taskpipe::sqlite
