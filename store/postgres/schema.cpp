// The PostgreSQL store's schema: the contract's tables (see postgres_store.cpp), bigint for the
// integers, text for the rest as in SQLite (timestamps included, so that both stores read alike).
#include "store/postgres/schema.hpp"

#include "store/task_store.hpp"

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace taskpipe::postgres {

namespace {

/// pg_advisory_xact_lock's key while the schema is created: "taskpipe" in ASCII.
constexpr const char* schema_lock = "SELECT pg_advisory_xact_lock(7017789127014248805)";

constexpr const char* tables[] = {
  "CREATE TABLE IF NOT EXISTS taskpipe_schema(version integer NOT NULL)",
  "CREATE TABLE IF NOT EXISTS tasks("
  "id bigint PRIMARY KEY, type text NOT NULL, summary text NOT NULL, version bigint NOT NULL, "
  "updated_at text NOT NULL)",
  "CREATE TABLE IF NOT EXISTS audit("
  "batch_id text COLLATE \"C\" NOT NULL, task_id bigint NOT NULL, old_type text, old_summary text, "
  "new_type text, new_summary text, at text NOT NULL, PRIMARY KEY(batch_id, task_id))",
  "CREATE TABLE IF NOT EXISTS applied_updates("
  "batch_id text COLLATE \"C\" NOT NULL, task_id bigint NOT NULL, version bigint NOT NULL, "
  "at text NOT NULL, superseded_by text COLLATE \"C\", PRIMARY KEY(task_id, batch_id))",
  "CREATE TABLE IF NOT EXISTS outbox("
  "batch_id text COLLATE \"C\" NOT NULL, task_id bigint NOT NULL, message text NOT NULL, "
  "created_at text NOT NULL, PRIMARY KEY(batch_id, task_id))",
  // The batch journal (journal.cpp), SQLite's tables: one row per admitted batch, its task list
  // one blob until it finished; the failures of finished batches.
  "CREATE TABLE IF NOT EXISTS batches("
  "batch_id text COLLATE \"C\" PRIMARY KEY, number bigint NOT NULL UNIQUE, "
  "admitted_ms bigint NOT NULL, deadline_ms bigint NOT NULL, idempotency_key text UNIQUE, "
  "body_digest text, total bigint NOT NULL, tasks bytea, cancelled integer NOT NULL DEFAULT 0, "
  "state text NOT NULL DEFAULT 'running', finished_ms bigint, elapsed_ms double precision, "
  "succeeded bigint, failed bigint, front bigint)",
  // The blob is written once and read at most once (a restart): stored as it is, not compressed.
  "ALTER TABLE batches ALTER COLUMN tasks SET STORAGE EXTERNAL",
  "CREATE INDEX IF NOT EXISTS batches_unfinished ON batches(admitted_ms) WHERE finished_ms IS NULL",
  "CREATE INDEX IF NOT EXISTS batches_finished ON batches(finished_ms) WHERE finished_ms IS NOT NULL",
  "CREATE TABLE IF NOT EXISTS batch_failures("
  "batch_id text COLLATE \"C\" NOT NULL, position bigint NOT NULL, task_id bigint NOT NULL, "
  "stage text NOT NULL, code text NOT NULL, reason text NOT NULL, PRIMARY KEY(batch_id, position))",
  "CREATE INDEX IF NOT EXISTS batch_failures_by_task ON batch_failures(batch_id, task_id)",
  // The admission stamps every front on the database shares (postgres_store.cpp).
  "CREATE SEQUENCE IF NOT EXISTS taskpipe_batch_numbers",
};

/// The largest batch number any row holds (as SQLite's last_batch), NULL if none.
#define TASKPIPE_PG_LAST_BATCH                                                                   \
  "SELECT max(b) FROM (SELECT max(batch_id) AS b FROM audit UNION ALL SELECT max(batch_id) "   \
  "FROM outbox UNION ALL SELECT max(batch_id) FROM batches) AS m"

// The sequence starts after every batch number the database holds (a version 1 database was
// numbered by its front): setval only ever moves it forward, and the numbers it handed out are
// never below any row's, so this is a no-op once the sequence numbers every batch.
constexpr const char* catch_up_sql =
  "SELECT setval('taskpipe_batch_numbers', n) FROM (SELECT ('x' || substr(m, 3))::bit(64)::bigint"
  " AS n FROM (" TASKPIPE_PG_LAST_BATCH ") AS l(m) WHERE m IS NOT NULL) AS l"
  " WHERE n > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
  " FROM taskpipe_batch_numbers)";

// A chunk as rows: (batch_id, task_id, new_type, new_summary, ord), ord its position: rows are
// inserted in chunk order, so that of a (batch, task) given twice the first one is written, as
// task by task. Reads of tasks say `t.id = ANY($2)`: the planner then looks the chunk's ids up in
// the index instead of hashing the whole table (a CTE's join alone made it scan all of tasks).
#define TASKPIPE_PG_INPUT                                                                        \
  "WITH input AS (SELECT u.batch_id COLLATE \"C\" AS batch_id, u.task_id, u.new_type, "        \
  "u.new_summary, u.ord FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) "        \
  "WITH ORDINALITY AS u(batch_id, task_id, new_type, new_summary, ord))"

// The task ids of the chunk whose task is gone and whose row `table` does not hold already (a
// retry of a task deleted meanwhile is fine).
#define TASKPIPE_PG_GONE(table)                                                                  \
  " SELECT i.task_id FROM input i WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = i.task_id)" \
  " AND NOT EXISTS (SELECT 1 FROM " table " r WHERE r.batch_id = i.batch_id AND r.task_id = i.task_id)"

constexpr const char* validate_sql =
  "SELECT x FROM unnest($1::bigint[]) AS x WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = x)";

constexpr const char* audit_sql =
  TASKPIPE_PG_INPUT
  ", ins AS (INSERT INTO audit(batch_id, task_id, old_type, old_summary, new_type, new_summary, at)"
  " SELECT i.batch_id, i.task_id, t.type, t.summary, i.new_type, i.new_summary, $5"
  " FROM input i JOIN tasks t ON t.id = i.task_id WHERE t.id = ANY($2::bigint[]) ORDER BY i.ord ON CONFLICT DO NOTHING)"
  TASKPIPE_PG_GONE("audit");

// Update, after update_lock (a statement of its own, so that this one's snapshot, taken once the
// chunk's task rows are locked, sees every update another node committed to them). Per-key order:
// batch numbers are the admission order and batch_id text sorts like them (fixed width, COLLATE
// "C"), so a task's newest applied batch is max(batch_id) of its applied_updates rows (keyed task
// first: an index seek). A write from an older batch than that is recorded as superseded (the
// task keeps the later value); otherwise the applied_updates row is the gate (ON CONFLICT DO
// NOTHING: a retry changes nothing) and only the rows it inserted change their task, whose audit
// row first gets the task's true old values (another batch may have changed it since Audit read
// it). The chunk's task ids are distinct (the store splits a chunk that repeats one).
constexpr const char* update_lock_sql =
  "SELECT 1 FROM tasks WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE";

constexpr const char* update_sql =
  TASKPIPE_PG_INPUT
  ", cur AS (SELECT t.id, t.version, t.type, t.summary, (SELECT max(a.batch_id) FROM"
  " applied_updates a WHERE a.task_id = t.id) AS newest FROM tasks t WHERE t.id = ANY($2::bigint[]))"
  ", ins AS (INSERT INTO applied_updates(batch_id, task_id, version, at, superseded_by)"
  " SELECT i.batch_id, i.task_id,"
  " CASE WHEN c.newest > i.batch_id THEN c.version ELSE c.version + 1 END, $5,"
  " CASE WHEN c.newest > i.batch_id THEN c.newest END"
  " FROM input i JOIN cur c ON c.id = i.task_id"
  " ON CONFLICT DO NOTHING RETURNING batch_id, task_id, version, superseded_by)"
  ", upd AS (UPDATE tasks t SET type = coalesce(i.new_type, t.type),"
  " summary = coalesce(i.new_summary, t.summary), version = ins.version, updated_at = $5"
  " FROM ins JOIN input i ON i.batch_id = ins.batch_id AND i.task_id = ins.task_id"
  " WHERE t.id = ins.task_id AND ins.superseded_by IS NULL)"
  ", aud AS (UPDATE audit a SET old_type = c.type, old_summary = c.summary"
  " FROM ins JOIN cur c ON c.id = ins.task_id WHERE ins.superseded_by IS NULL"
  " AND a.batch_id = ins.batch_id AND a.task_id = ins.task_id"
  " AND (a.old_type IS DISTINCT FROM c.type OR a.old_summary IS DISTINCT FROM c.summary))"
  " SELECT i.task_id FROM input i WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE c.id = i.task_id)"
  " AND NOT EXISTS (SELECT 1 FROM applied_updates r WHERE r.batch_id = i.batch_id"
  " AND r.task_id = i.task_id)";

// Notify: the message as append_outbox_message() writes it (the summary quoted, '\' and '"'
// escaped), from the task as it is now.
constexpr const char* notify_sql =
  TASKPIPE_PG_INPUT
  ", ins AS (INSERT INTO outbox(batch_id, task_id, message, created_at)"
  " SELECT i.batch_id, i.task_id, 'task ' || t.id || ' updated to version ' || t.version"
  " || ': type ' || t.type || ', summary \"'"
  " || replace(replace(t.summary, '\\', '\\\\'), '\"', '\\\"') || '\"', $5"
  " FROM input i JOIN tasks t ON t.id = i.task_id WHERE t.id = ANY($2::bigint[]) ORDER BY i.ord ON CONFLICT DO NOTHING)"
  TASKPIPE_PG_GONE("outbox");

#undef TASKPIPE_PG_INPUT
#undef TASKPIPE_PG_GONE

} // namespace

caf::error create_schema(connection& db) {
  if (auto err = db.begin_pipeline())
    return err;
  std::vector<std::string> queries{"BEGIN", schema_lock};
  for (const char* sql : tables)
    queries.emplace_back(sql);
  auto versions_at = queries.size();
  queries.emplace_back("SELECT version FROM taskpipe_schema");
  queries.push_back("INSERT INTO taskpipe_schema(version) SELECT " + std::to_string(schema_version)
                    + " WHERE NOT EXISTS (SELECT 1 FROM taskpipe_schema)");
  // Version 1 had neither the journal nor the sequence: created above, it reads as version 2.
  queries.emplace_back("UPDATE taskpipe_schema SET version = 2 WHERE version = 1");
  queries.emplace_back(catch_up_sql);
  queries.emplace_back("COMMIT");
  for (const auto& sql : queries)
    if (auto err = db.send_text(sql))
      return err;
  std::vector<connection::answer> answers;
  if (auto err = db.finish_pipeline(answers))
    return err;
  for (auto& a : answers)
    if (!a.ok && a.res) {
      db.exec("ROLLBACK");
      return storage_error("creating the tables in PostgreSQL " + db.target()
                           + " failed: " + a.error);
    }
  auto* versions = answers[versions_at].res.get();
  for (int row = 0; row < PQntuples(versions); ++row) {
    auto found = std::atoi(PQgetvalue(versions, row, 0));
    if ((found != schema_version && found != 1) || PQntuples(versions) > 1)
      return storage_error("PostgreSQL " + db.target() + " holds taskpipe schema version "
                           + std::to_string(found) + " (table taskpipe_schema); this taskpipe "
                           + "reads version " + std::to_string(schema_version));
  }
  return caf::none;
}

namespace {

const std::pair<const char*, const char*> all[] = {
  {stmt::validate, validate_sql},
  {stmt::audit, audit_sql},
  {stmt::update_lock, update_lock_sql},
  {stmt::update, update_sql},
  {stmt::notify, notify_sql},
  {stmt::last_batch, TASKPIPE_PG_LAST_BATCH},
  {stmt::find, "SELECT type, summary, version, updated_at FROM tasks WHERE id = $1"},
  {stmt::counts, "SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM audit), "
                 "(SELECT count(*) FROM applied_updates), (SELECT count(*) FROM outbox)"},
  {stmt::seed, "INSERT INTO tasks(id, type, summary, version, updated_at) "
                 "SELECT x, 'Story', 'Task ' || x, 1, $3 FROM generate_series($1::bigint, "
                 "$2::bigint) AS x ON CONFLICT DO NOTHING"},
  // In order: the n-th row is the n-th batch's number.
  {stmt::number_batches, "SELECT nextval('taskpipe_batch_numbers') FROM generate_series(1, "
                         "$1::integer) ORDER BY 1"},
};

#undef TASKPIPE_PG_LAST_BATCH

} // namespace

const char* statement_sql(const char* name) {
  for (auto& [known, sql] : all)
    if (std::string_view{known} == name)
      return sql;
  return nullptr;
}

caf::error prepare_statements(connection& db) {
  return db.prepare_all(all);
}

} // namespace taskpipe::postgres
