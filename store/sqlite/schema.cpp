#include "store/sqlite/schema.hpp"

namespace taskpipe::sqlite {

namespace {

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS tasks(
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  summary TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
  batch_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  old_type TEXT,
  old_summary TEXT,
  new_type TEXT,
  new_summary TEXT,
  at TEXT NOT NULL,
  PRIMARY KEY(batch_id, task_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS applied_updates(
  batch_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  at TEXT NOT NULL,
  superseded_by TEXT,
  PRIMARY KEY(task_id, batch_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox(
  batch_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  message TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY(batch_id, task_id)) WITHOUT ROWID;
)sql";

// applied_updates is keyed task first: Update asks for the newest batch applied to a task (per-key
// order), one index seek. Files from before that get the column and an index instead.
constexpr const char* upgrade_sql = R"sql(
ALTER TABLE applied_updates ADD COLUMN superseded_by TEXT;
CREATE INDEX IF NOT EXISTS applied_updates_by_task ON applied_updates(task_id, batch_id);
)sql";

} // namespace

caf::error create_schema(connection& db) {
  if (auto err = db.exec(schema_sql))
    return err;
  auto check = db.prepare("SELECT 1 FROM pragma_table_info('applied_updates') "
                          "WHERE name = 'superseded_by'");
  reset_on_exit guard{check.get()};
  auto rc = db.step(check.get());
  if (rc == SQLITE_ROW)
    return caf::none;
  if (rc != SQLITE_DONE)
    return storage_error("reading the schema failed: " + db.errmsg());
  return db.exec(upgrade_sql);
}

statements::statements(connection& db)
  : begin(db.prepare("BEGIN IMMEDIATE")),
    commit(db.prepare("COMMIT")),
    rollback(db.prepare("ROLLBACK")),
    task_exists(db.prepare("SELECT 1 FROM tasks WHERE id = ?1")),
    ids_in_range(db.prepare("SELECT id FROM tasks WHERE id BETWEEN ?1 AND ?2")),
    rows_in_range(
      db.prepare("SELECT id, type, summary, version FROM tasks WHERE id BETWEEN ?1 AND ?2")),
    rows_in_range_with_order(
      db.prepare("SELECT id, type, summary, version, (SELECT max(batch_id) FROM applied_updates "
                 "WHERE task_id = tasks.id) FROM tasks WHERE id BETWEEN ?1 AND ?2")),
    newest_batch(db.prepare("SELECT max(batch_id) FROM applied_updates WHERE task_id = ?1")),
    last_batch(db.prepare("SELECT max(b) FROM (SELECT max(batch_id) AS b FROM audit "
                          "UNION ALL SELECT max(batch_id) FROM outbox "
                          "UNION ALL SELECT max(batch_id) FROM batches)")),
    find(db.prepare("SELECT type, summary, version, updated_at FROM tasks WHERE id = ?1")),
    counts(db.prepare("SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM audit), "
                      "(SELECT count(*) FROM applied_updates), (SELECT count(*) FROM outbox)")),
    seed(db.prepare(
      "WITH RECURSIVE ids(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM ids WHERE x < ?2) "
      "INSERT OR IGNORE INTO tasks(id, type, summary, version, updated_at) "
      "SELECT x, 'Story', 'Task ' || x, 1, ?3 FROM ids")) {
}

} // namespace taskpipe::sqlite
