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
  PRIMARY KEY(batch_id, task_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox(
  batch_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  message TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY(batch_id, task_id)) WITHOUT ROWID;
)sql";

} // namespace

caf::error create_schema(connection& db) {
  return db.exec(schema_sql);
}

statements::statements(connection& db)
  : begin(db.prepare("BEGIN IMMEDIATE")),
    commit(db.prepare("COMMIT")),
    rollback(db.prepare("ROLLBACK")),
    task_exists(db.prepare("SELECT 1 FROM tasks WHERE id = ?1")),
    ids_in_range(db.prepare("SELECT id FROM tasks WHERE id BETWEEN ?1 AND ?2")),
    rows_in_range(
      db.prepare("SELECT id, type, summary, version FROM tasks WHERE id BETWEEN ?1 AND ?2")),
    find(db.prepare("SELECT type, summary, version, updated_at FROM tasks WHERE id = ?1")),
    counts(db.prepare("SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM audit), "
                      "(SELECT count(*) FROM applied_updates), (SELECT count(*) FROM outbox)")),
    seed(db.prepare(
      "WITH RECURSIVE ids(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM ids WHERE x < ?2) "
      "INSERT OR IGNORE INTO tasks(id, type, summary, version, updated_at) "
      "SELECT x, 'Story', 'Task ' || x, 1, ?3 FROM ids")) {
}

} // namespace taskpipe::sqlite
