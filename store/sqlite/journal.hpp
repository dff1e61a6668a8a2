// The SQLite store's batch journal (store/journal.hpp):
//   batches(batch_id TEXT PRIMARY KEY, number, admitted_ms, deadline_ms, idempotency_key UNIQUE,
//           body_digest, total, tasks BLOB, cancelled, state, finished_ms, elapsed_ms,
//           succeeded, failed)
//     one row per admitted batch; `tasks` (encode_tasks) is dropped (NULL) once it finished.
//     number is the batch number as a signed 64-bit integer (the same bits).
//   batch_failures(batch_id, position, task_id, stage, code, reason), keyed by (batch_id,
//     position), indexed by (batch_id, task_id) for pages: the failures of finished batches (a
//     succeeded task has its outbox row).
// Each writing call is one transaction of its own, committed with the connection's durability;
// journal() and record_outcomes() inside an open group (transaction.hpp) are a savepoint of it.
// `expired_before_ms` (task_store::expired_before_ms): batches finished before it are expired.
#pragma once

#include "store/sqlite/schema.hpp"
#include "store/sqlite/transaction.hpp"

namespace taskpipe::sqlite {

/// Creates the journal's tables where they are missing.
caf::error create_journal_schema(connection& db);

class journal_tables {
public:
  journal_tables(connection& db, statements& st, transaction& txn);

  caf::error journal(const std::vector<journaled_batch>& batches, std::int64_t expired_before_ms);
  caf::error record_outcomes(const std::vector<batch_outcome>& outcomes);
  caf::expected<resumable_batches> unfinished_batches();
  caf::expected<batch_report> finished_report(std::uint64_t batch, std::int64_t expired_before_ms);
  caf::expected<failure_page> failures_after(std::uint64_t batch, std::int64_t after,
                                             std::size_t limit, std::int64_t expired_before_ms);
  caf::expected<key_owner> find_idempotency_key(const std::string& key,
                                                std::int64_t expired_before_ms);
  caf::expected<bool> purge_expired(std::size_t max_rows, std::int64_t expired_before_ms);

private:
  /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it or the commit fails.
  template <class F>
  caf::error in_transaction(const char* what, F body);

  /// Inside the open group: runs `body` in a savepoint, rolled back to when it fails (the rest of
  /// the group stays); else in_transaction.
  template <class F>
  caf::error in_group_or_transaction(const char* what, F body);

  /// A finished, unexpired batch's report without its failures; not_found if there is none.
  caf::error read_head(const std::string& id, std::int64_t expired_before_ms, batch_report& r);

  /// Appends the failures of `id` with task id > `after`: `limit` and the rest of the last id's;
  /// `more` when more follow.
  caf::error read_failures(std::uint64_t batch, const std::string& id, std::int64_t after,
                           std::size_t limit, std::vector<task_failure>& out, bool& more);

  /// The task ids `s` (?1 batch_id) yields.
  caf::error read_ids(sqlite3_stmt* s, const std::string& batch, std::vector<std::int64_t>& out);

  connection& db_;
  statements& st_;
  transaction& txn_;
  statement insert_batch_;
  statement cancel_;
  statement finish_;
  statement insert_failure_;
  statement unfinished_;
  statement notified_ids_;
  statement applied_ids_;
  statement report_;
  statement failures_;
  statement key_;
  statement free_key_;
  statement expired_;
  statement purge_failures_;
  statement purge_batch_;
};

} // namespace taskpipe::sqlite
