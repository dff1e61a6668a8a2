#include "store/sqlite/schema.hpp"

namespace taskpipe::sqlite {

namespace {

// applied_updates' columns and key, for new files and for rekeying an earlier version's.
#define TASKPIPE_APPLIED_UPDATES_COLUMNS                                                         \
  "(batch_id TEXT NOT NULL, task_id INTEGER NOT NULL, version INTEGER NOT NULL, "              \
  "at TEXT NOT NULL, superseded_by TEXT, PRIMARY KEY(batch_id, task_id)) WITHOUT ROWID;"

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
CREATE TABLE IF NOT EXISTS applied_updates)sql" TASKPIPE_APPLIED_UPDATES_COLUMNS R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  batch_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  message TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY(batch_id, task_id)) WITHOUT ROWID;
)sql";

// Per-key order: each task's newest applied batch, one row per task changed in place. Keying
// applied_updates by task instead made every batch write one B-tree page per task (its rows sit
// beside that task's older ones): 17 x slower for batches that update the same tasks again.
constexpr const char* order_sql = R"sql(
CREATE TABLE task_order(task_id INTEGER PRIMARY KEY, batch_id TEXT NOT NULL);
INSERT INTO task_order SELECT task_id, max(batch_id) FROM applied_updates GROUP BY task_id;
DROP INDEX IF EXISTS applied_updates_by_task;
)sql";

// applied_updates as an earlier version keyed it (task first), rewritten batch first.
constexpr const char* rekey_sql = R"sql(
CREATE TABLE applied_updates_rekeyed)sql" TASKPIPE_APPLIED_UPDATES_COLUMNS R"sql(
INSERT INTO applied_updates_rekeyed SELECT batch_id, task_id, version, at, superseded_by
  FROM applied_updates;
DROP TABLE applied_updates;
ALTER TABLE applied_updates_rekeyed RENAME TO applied_updates;
)sql";

#undef TASKPIPE_APPLIED_UPDATES_COLUMNS

/// Whether the query gives a row; -1 if it failed.
int has_row(connection& db, const char* sql) {
  auto s = db.prepare(sql);
  reset_on_exit guard{s.get()};
  auto rc = db.step(s.get());
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/// Brings a file of an earlier version up to date (inside create_schema's transaction).
caf::error upgrade(connection& db) {
  auto failed = [&] { return storage_error("reading the schema failed: " + db.errmsg()); };
  auto superseded = has_row(db, "SELECT 1 FROM pragma_table_info('applied_updates') "
                                "WHERE name = 'superseded_by'");
  if (superseded < 0)
    return failed();
  if (superseded == 0)
    if (auto err = db.exec("ALTER TABLE applied_updates ADD COLUMN superseded_by TEXT"))
      return err;
  auto task_first = has_row(db, "SELECT 1 FROM pragma_table_info('applied_updates') "
                                "WHERE name = 'task_id' AND pk = 1");
  if (task_first < 0)
    return failed();
  if (task_first == 1)
    if (auto err = db.exec(rekey_sql))
      return err;
  auto ordered = has_row(db, "SELECT 1 FROM sqlite_master WHERE name = 'task_order'");
  if (ordered < 0)
    return failed();
  return ordered == 1 ? caf::none : db.exec(order_sql);
}

} // namespace

caf::error create_schema(connection& db) {
  // One transaction: nodes sharing a file may start at once, and an upgrade is all or nothing.
  if (auto err = db.exec("BEGIN IMMEDIATE"))
    return err;
  auto err = db.exec(schema_sql);
  if (!err)
    err = upgrade(db);
  if (!err)
    return db.exec("COMMIT");
  db.exec("ROLLBACK");
  return err;
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
      db.prepare("SELECT t.id, t.type, t.summary, t.version, o.batch_id FROM tasks t "
                 "LEFT JOIN task_order o ON o.task_id = t.id WHERE t.id BETWEEN ?1 AND ?2")),
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
