// The PostgreSQL store's tables (created when absent, with the schema version recorded) and its
// prepared statements, one per stage's chunk work.
#pragma once

#include "store/postgres/connection.hpp"

namespace taskpipe::postgres {

/// The schema version this build reads and writes (table taskpipe_schema): 2 added the batch
/// journal and the batch number sequence, 3 keyed applied_updates batch first and added
/// task_order (a version 1 or 2 database is upgraded in place).
inline constexpr int schema_version = 3;

/// Creates the tables that are missing (under an advisory lock, so that nodes starting together
/// do not race) and checks the recorded schema version: an error names the version found.
caf::error create_schema(connection& db);

/// The planner settings of every store connection (and bench/postgres_baseline's), one query.
/// Generic plans: each statement is planned once per connection, not per chunk (the stage
/// statements are written for them, schema.cpp says how). No sequential scans, hash or merge
/// joins: a generic plan is made at the first chunk, when audit, outbox, applied_updates and
/// task_order are empty, and for an empty table a scan hashed for an anti join is cheapest; the
/// plan then stays until autovacuum's ANALYZE of the table, so every chunk until then read
/// the whole growing table (at 1,000,000 seeded tasks, 100,000 updated: 197 scans reading 9.8
/// million audit rows, half the throughput). Index lookups are what these statements are for.
inline constexpr const char* planner_settings_sql =
  "SELECT set_config('plan_cache_mode', 'force_generic_plan', false), "
  "set_config('enable_seqscan', 'off', false), set_config('enable_hashjoin', 'off', false), "
  "set_config('enable_mergejoin', 'off', false)";

/// Prepares the statements below on a new connection.
caf::error prepare_statements(connection& db);

/// Names of the prepared statements. Each stage's statement takes a chunk as parallel arrays
/// ($1 batch ids text[], $2 task ids bigint[], then the stage's own, the group's timestamp
/// last) and returns the task ids whose work cannot be done ("does not exist any more" for the
/// writers, "does not exist" for validate).
namespace stmt {
inline constexpr const char* validate = "taskpipe_validate";
inline constexpr const char* audit = "taskpipe_audit";
inline constexpr const char* update_lock = "taskpipe_update_lock"; ///< $1 ids: locks the rows
inline constexpr const char* update = "taskpipe_update";
inline constexpr const char* notify = "taskpipe_notify";
inline constexpr const char* find = "taskpipe_find";
inline constexpr const char* last_batch = "taskpipe_last_batch";
inline constexpr const char* counts = "taskpipe_counts";
inline constexpr const char* seed = "taskpipe_seed";
inline constexpr const char* number_batches = "taskpipe_number_batches"; ///< $1 how many
} // namespace stmt

/// The SQL of a prepared statement by name (for bench/postgres_baseline); null if unknown.
const char* statement_sql(const char* name);

} // namespace taskpipe::postgres
