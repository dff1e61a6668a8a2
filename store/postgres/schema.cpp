// The PostgreSQL store's schema: the contract's tables (see postgres_store.cpp), bigint for the
// integers, text for the rest as in SQLite (timestamps included, so that both stores read alike).
#include "store/postgres/schema.hpp"

#include "store/task_store.hpp"

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskpipe::postgres {

namespace {

#define TASKPIPE_PG_TASKS_FILL "50"

/// pg_advisory_xact_lock's key while the schema is created: "taskpipe" in ASCII.
constexpr const char* schema_lock = "SELECT pg_advisory_xact_lock(7017789127014248805)";

constexpr const char* tables[] = {
  "CREATE TABLE IF NOT EXISTS taskpipe_schema(version integer NOT NULL)",
  // Half of each page left free: a task's update then finds room on its own page (a HOT update:
  // no new index entry, one page written) instead of moving the row elsewhere.
  "CREATE TABLE IF NOT EXISTS tasks("
  "id bigint PRIMARY KEY, type text NOT NULL, summary text NOT NULL, version bigint NOT NULL, "
  "updated_at text NOT NULL) WITH (fillfactor = " TASKPIPE_PG_TASKS_FILL ")",
  "CREATE TABLE IF NOT EXISTS audit("
  "batch_id text COLLATE \"C\" NOT NULL, task_id bigint NOT NULL, old_type text, old_summary text, "
  "new_type text, new_summary text, at text NOT NULL, PRIMARY KEY(batch_id, task_id))",
  "CREATE TABLE IF NOT EXISTS applied_updates("
  "batch_id text COLLATE \"C\" NOT NULL, task_id bigint NOT NULL, version bigint NOT NULL, "
  "at text NOT NULL, superseded_by text COLLATE \"C\", PRIMARY KEY(batch_id, task_id))",
  // Each task's newest applied batch (per-key order), one row per task, as SQLite's: changed with
  // the task, so that applied_updates can stay keyed batch first (its rows of a chunk together).
  "CREATE TABLE IF NOT EXISTS task_order("
  "task_id bigint PRIMARY KEY, batch_id text COLLATE \"C\" NOT NULL) "
  "WITH (fillfactor = " TASKPIPE_PG_TASKS_FILL ")",
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

// The stage statements run with generic plans (postgres_store.cpp: force_generic_plan): planned
// once per connection, not once per chunk (a custom plan for 1,024-element arrays took
// milliseconds). A generic plan takes unnest() for a few rows, so every join below is a nested
// loop of index lookups, one per task of the chunk: the statements join the chunk's rows to
// tables by key only, never a CTE to another CTE (estimated at a row or so, such a join became a
// nested loop of 1,024 x 1,024 rows), and never say `= ANY($2)` inside a join (an index scan
// with a 1,024-element array per lookup).
//
// Rows are inserted where their key is absent (NOT EXISTS), not with ON CONFLICT DO NOTHING,
// whose speculative insertion took twice as long per row. A concurrent writer of the same key
// (another node replaying the task) then makes the statement fail with unique_violation instead
// of doing nothing: the store runs the group again, and then finds the row (postgres_store.cpp).
//
// A chunk as rows: (batch_id, task_id, new_type, new_summary, ord), ord its position.
#define TASKPIPE_PG_INPUT                                                                        \
  "WITH input AS (SELECT u.batch_id COLLATE \"C\" AS batch_id, u.task_id, u.new_type, "        \
  "u.new_summary, u.ord FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) "        \
  "WITH ORDINALITY AS u(batch_id, task_id, new_type, new_summary, ord))"

// The chunk's rows with their task's columns `cols` (NULL where the task is gone): each task is
// looked up once, for the insert and for the answer alike.
#define TASKPIPE_PG_SOURCE(cols)                                                                 \
  TASKPIPE_PG_INPUT ", src AS (SELECT i.batch_id, i.task_id, i.new_type, i.new_summary, i.ord, " \
  cols " FROM input i LEFT JOIN tasks t ON t.id = i.task_id)"

#define TASKPIPE_PG_ABSENT(rows, table)                                                          \
  "NOT EXISTS (SELECT 1 FROM " table " r WHERE r.batch_id = " rows ".batch_id"                 \
  " AND r.task_id = " rows ".task_id)"

// The rows of `src` to insert into `table`: those of tasks that exist and whose row is absent;
// of a (batch, task) given twice the first one in chunk order, as task by task.
#define TASKPIPE_PG_NEW_ROWS(table)                                                              \
  " FROM src s WHERE id IS NOT NULL AND " TASKPIPE_PG_ABSENT("s", table)                         \
  " ORDER BY batch_id, task_id, ord"

// The answer: the task ids of the chunk whose task is gone and whose row `table` does not hold
// already (a retry of a task deleted meanwhile is fine).
#define TASKPIPE_PG_GONE(rows, table)                                                            \
  " SELECT s.task_id FROM " rows " s WHERE s.id IS NULL AND " TASKPIPE_PG_ABSENT("s", table)

constexpr const char* validate_sql =
  "SELECT x FROM unnest($1::bigint[]) AS x WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = x)";

constexpr const char* audit_sql =
  TASKPIPE_PG_SOURCE("t.id, t.type, t.summary")
  ", ins AS (INSERT INTO audit(batch_id, task_id, old_type, old_summary, new_type, new_summary, at)"
  " SELECT DISTINCT ON (batch_id, task_id) batch_id, task_id, type, summary, new_type,"
  " new_summary, $5" TASKPIPE_PG_NEW_ROWS("audit") ")"
  TASKPIPE_PG_GONE("src", "audit");

// Update, after update_lock (a statement of its own, so that this one's snapshot, taken once the
// chunk's task rows are locked, sees every update another node committed to them). Per-key order:
// batch numbers are the admission order and batch_id text sorts like them (fixed width, COLLATE
// "C"), and task_order holds each task's newest applied batch, changed in the same statement as
// applied_updates. So a (batch, task) row exists once its batch is the task's newest or older,
// and the task's row in `cur` says what this write is: `applies` when its batch is newer than the
// task's newest (its applied_updates row is new: the task, task_order and the audit row change),
// superseded when it is older (recorded with the later batch, unless a retry recorded it already;
// the task keeps the later value), a retry when it is the same (nothing changes). The audit row
// first gets the task's true old values (another batch may have changed it since Audit read it).
// The rows `cur` read are changed by their ctid (no second index lookup): the task rows are
// locked, and task_order rows change only with their task. The chunk's task ids are distinct
// (the store splits a chunk that repeats one).
constexpr const char* update_lock_sql =
  "SELECT 1 FROM tasks WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE";

constexpr const char* update_sql =
  TASKPIPE_PG_INPUT
  ", cur AS (SELECT i.batch_id, i.task_id, i.new_type, i.new_summary, t.ctid AS task_row, t.id,"
  " t.version, t.type, t.summary, o.ctid AS order_row, o.batch_id AS newest,"
  " t.id IS NOT NULL AND (o.batch_id IS NULL OR o.batch_id < i.batch_id) AS applies"
  " FROM input i LEFT JOIN tasks t ON t.id = i.task_id"
  " LEFT JOIN task_order o ON o.task_id = i.task_id)"
  ", ins AS (INSERT INTO applied_updates(batch_id, task_id, version, at, superseded_by)"
  " SELECT batch_id, task_id, CASE WHEN applies THEN version + 1 ELSE version END, $5,"
  " CASE WHEN newest > batch_id THEN newest END FROM cur c WHERE applies"
  " OR (newest > batch_id AND " TASKPIPE_PG_ABSENT("c", "applied_updates") "))"
  ", upd AS (UPDATE tasks t SET type = coalesce(c.new_type, t.type),"
  " summary = coalesce(c.new_summary, t.summary), version = c.version + 1, updated_at = $5"
  " FROM cur c WHERE t.ctid = c.task_row AND c.applies)"
  ", moved AS (UPDATE task_order o SET batch_id = c.batch_id FROM cur c"
  " WHERE o.ctid = c.order_row AND c.applies)"
  ", first AS (INSERT INTO task_order(task_id, batch_id) SELECT task_id, batch_id FROM cur"
  " WHERE applies AND order_row IS NULL)"
  ", aud AS (UPDATE audit a SET old_type = c.type, old_summary = c.summary FROM cur c"
  " WHERE a.batch_id = c.batch_id AND a.task_id = c.task_id AND c.applies"
  " AND (a.old_type IS DISTINCT FROM c.type OR a.old_summary IS DISTINCT FROM c.summary))"
  TASKPIPE_PG_GONE("cur", "applied_updates");

// Notify: the message as append_outbox_message() writes it (the summary quoted, '\' and '"'
// escaped), from the task as it is now.
constexpr const char* notify_sql =
  TASKPIPE_PG_SOURCE("t.id, t.version, t.type, t.summary")
  ", ins AS (INSERT INTO outbox(batch_id, task_id, message, created_at)"
  " SELECT DISTINCT ON (batch_id, task_id) batch_id, task_id, 'task ' || id"
  " || ' updated to version ' || version || ': type ' || type || ', summary \"'"
  " || replace(replace(summary, '\\', '\\\\'), '\"', '\\\"') || '\"', $5"
  TASKPIPE_PG_NEW_ROWS("outbox") ")"
  TASKPIPE_PG_GONE("src", "outbox");

#undef TASKPIPE_PG_INPUT
#undef TASKPIPE_PG_SOURCE
#undef TASKPIPE_PG_ABSENT
#undef TASKPIPE_PG_NEW_ROWS
#undef TASKPIPE_PG_GONE

} // namespace

namespace {

/// Sends `queries` as one pipeline and reads their answers; the error names the first refused
/// (the transaction is rolled back then).
caf::error run_schema_queries(connection& db, const std::vector<std::string>& queries,
                              std::vector<connection::answer>& answers) {
  if (auto err = db.begin_pipeline())
    return err;
  for (const auto& sql : queries)
    if (auto err = db.send_text(sql))
      return err;
  if (auto err = db.finish_pipeline(answers))
    return err;
  for (auto& a : answers)
    if (!a.ok && a.res) {
      db.exec("ROLLBACK");
      return storage_error("creating the tables in PostgreSQL " + db.target()
                           + " failed: " + a.error);
    }
  return caf::none;
}

} // namespace

caf::error create_schema(connection& db) {
  // One transaction in two round trips: what is missing is created and the version read, then
  // an earlier version is upgraded in place and the version recorded.
  std::vector<std::string> queries{"BEGIN", schema_lock};
  for (const char* sql : tables)
    queries.emplace_back(sql);
  auto versions_at = queries.size();
  queries.emplace_back("SELECT version FROM taskpipe_schema");
  queries.emplace_back("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = 'applied_updates'::regclass AND contype = 'p'");
  std::vector<connection::answer> answers;
  if (auto err = run_schema_queries(db, queries, answers))
    return err;
  auto* versions = answers[versions_at].res.get();
  int found = 0; // none yet: a new database
  for (int row = 0; row < PQntuples(versions); ++row) {
    found = std::atoi(PQgetvalue(versions, row, 0));
    if (found < 1 || found > schema_version || PQntuples(versions) > 1) {
      db.exec("ROLLBACK");
      return storage_error("PostgreSQL " + db.target() + " holds taskpipe schema version "
                           + std::to_string(found) + " (table taskpipe_schema); this taskpipe "
                           + "reads version " + std::to_string(schema_version));
    }
  }
  queries.clear();
  if (found > 0 && found < 3) {
    // Version 1 had neither the journal nor the sequence (created above). Versions 1 and 2 keyed
    // applied_updates task first (Update read a task's newest batch from it): rekeyed batch first,
    // each task's newest batch now in task_order (created above).
    auto* key = answers[versions_at + 1].res.get();
    if (PQntuples(key) == 1
        && std::string_view{PQgetvalue(key, 0, 1)} == "PRIMARY KEY (task_id, batch_id)")
      queries.push_back(std::string{"ALTER TABLE applied_updates DROP CONSTRAINT \""}
                        + PQgetvalue(key, 0, 0) + "\", ADD PRIMARY KEY (batch_id, task_id)");
    queries.emplace_back("INSERT INTO task_order(task_id, batch_id) SELECT task_id, "
                         "max(batch_id) FROM applied_updates GROUP BY task_id ON CONFLICT "
                         "(task_id) DO UPDATE SET batch_id = excluded.batch_id "
                         "WHERE task_order.batch_id < excluded.batch_id");
    // (Pages written from now on keep the room; the existing ones fill as they are rewritten.)
    queries.emplace_back("ALTER TABLE tasks SET (fillfactor = " TASKPIPE_PG_TASKS_FILL ")");
    queries.emplace_back("UPDATE taskpipe_schema SET version = " + std::to_string(schema_version));
  }
  if (found == 0)
    queries.push_back("INSERT INTO taskpipe_schema(version) VALUES ("
                      + std::to_string(schema_version) + ")");
  queries.emplace_back(catch_up_sql);
  queries.emplace_back("COMMIT");
  return run_schema_queries(db, queries, answers);
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
#undef TASKPIPE_PG_TASKS_FILL

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
