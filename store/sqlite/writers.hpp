// The SQLite store's stage work: Validate's lookups and one writer per writing stage.
#pragma once

#include "store/sqlite/snapshot.hpp"
#include "store/sqlite/transaction.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace taskpipe::sqlite {

/// Batch numbers as the store keys them (batch_id_text), the last one cached: chunks hold one
/// batch.
class batch_names {
public:
  const std::string& operator()(std::uint64_t batch);

private:
  bool have_ = false;
  std::uint64_t batch_ = 0;
  std::string text_;
};

/// What the stages' store work shares; all of it outlives the writers.
struct store_parts {
  connection& db;
  statements& st;
  transaction& txn;
  chunk_snapshot& snapshot;
  batch_names& batch_text;
};

/// 1 if task `id` exists, 0 if not, -1 if the lookup failed.
int task_exists(connection& db, statements& st, std::int64_t id);

/// Validate's not_found: "task <id> does not exist".
caf::error task_not_found(std::int64_t id);

/// Validate: whether each task exists (a read; no write).
class validator {
public:
  explicit validator(store_parts parts) : p_(parts) {
  }

  /// results[i] is not_found for each task that does not exist (results holds none on entry).
  void check_chunk(const std::vector<task_envelope>& tasks, std::vector<caf::error>& results);

private:
  caf::error check(std::int64_t id);

  store_parts p_;
};

/// A writing stage's table as row_writer needs it.
struct row_table {
  const char* name;        ///< "audit", "applied_updates" or "outbox"
  const char* insert_head; ///< "INSERT OR IGNORE INTO <name>(<columns>) VALUES"
  const char* row_values;  ///< one row's placeholders: batch, task, the stage's values, ?1 last
  bool changes_task;       ///< update: RETURNING names the new rows; their tasks get changed
};

/// What audit, update and notify share: each writes one row per task keyed by (batch_id,
/// task_id) with INSERT OR IGNORE. The tasks the chunk's scan found go 64 at a time into one
/// multi-row statement that binds the scanned values; the others go one by one through the
/// stage's single-row statements (see sqlite_store.cpp for how errors are sorted out).
class row_writer {
public:
  row_writer(store_parts parts, row_table table);
  virtual ~row_writer();

  row_writer(const row_writer&) = delete;
  row_writer& operator=(const row_writer&) = delete;

  /// The stage's writes for a chunk; results holds none on entry.
  void write_chunk(const std::vector<task_envelope>& tasks, std::vector<caf::error>& results);

protected:
  /// One task's write by the single-row statements; with `row` (the scanned task) its values are
  /// bound, else the statement reads them.
  virtual caf::error write_one(const task_envelope& t, const snapshot_row* row) = 0;

  /// Binds the stage's values of pending row `j` < group_rows (its batch and task id are bound
  /// already); what it binds statically must stay put until the next call for the same `j`.
  virtual void bind_values(sqlite3_stmt* s, int& k, std::size_t j, const task_envelope& t,
                           const snapshot_row& row)
    = 0;

  /// Called for each row a changes_task statement inserted (update: changes the task).
  virtual caf::error row_inserted(const task_envelope& t, const std::string& batch);

  /// Called once the chunk's scan succeeded, before any of its rows is written.
  virtual void chunk_scanned(const std::vector<task_envelope>& tasks);

  /// Whether a scanned task goes into the multi-row statement; false: write_one() with its row.
  virtual bool groups(const task_envelope& t, const snapshot_row& row);

  /// Explains why an INSERT OR IGNORE wrote no row: fine if the row is there already (a retry), an
  /// error if the task is gone or the row was dropped otherwise (a RAISE(IGNORE) trigger).
  caf::error no_row_written(const std::string& batch, std::int64_t id);

  /// storage_error "<table> insert failed: <SQLite's message>".
  caf::error insert_failed() const;

  store_parts p_;
  row_table table_;

  /// Rows per multi-row statement (a chunk's remainder uses a statement of its own size).
  static constexpr std::size_t group_rows = 64;

private:
  struct pending_row {
    std::size_t index;       ///< into the chunk
    const snapshot_row* row; ///< the task as the chunk's scan found it
  };

  /// One task's write within the group, failing it once the group cannot commit.
  caf::error write_task(const task_envelope& t, const snapshot_row* row);

  /// The cached multi-row statement for `n` rows; null if it cannot be prepared.
  sqlite3_stmt* group_statement(std::size_t n);

  void flush_rows(const std::vector<task_envelope>& tasks, std::vector<caf::error>& results);
  void rows_one_by_one(const std::vector<task_envelope>& tasks, std::vector<caf::error>& results);
  void redo_failed_rows(const std::vector<task_envelope>& tasks, std::vector<caf::error>& results,
                        const std::string& failure);

  statement exists_; ///< ?1 batch, ?2 task: a row if the table has that key
  std::vector<statement> groups_; ///< multi-row statements by row count
  std::vector<pending_row> pending_;
  std::vector<std::string> pending_batch_; ///< each pending row's batch text (bound static)
  std::vector<char> inserted_;             ///< changes_task: the rows RETURNING reported
};

class audit_writer final : public row_writer {
public:
  explicit audit_writer(store_parts parts);

private:
  caf::error write_one(const task_envelope& t, const snapshot_row* row) override;
  void bind_values(sqlite3_stmt* s, int& k, std::size_t j, const task_envelope& t,
                   const snapshot_row& row) override;

  statement insert_select_; ///< reads the old values from tasks
  statement insert_values_; ///< binds the scanned old values
};

class update_writer final : public row_writer {
public:
  explicit update_writer(store_parts parts);

private:
  caf::error write_one(const task_envelope& t, const snapshot_row* row) override;
  void bind_values(sqlite3_stmt* s, int& k, std::size_t j, const task_envelope& t,
                   const snapshot_row& row) override;
  caf::error row_inserted(const task_envelope& t, const std::string& batch) override;
  void chunk_scanned(const std::vector<task_envelope>& tasks) override;
  bool groups(const task_envelope& t, const snapshot_row& row) override;

  /// The change of the task once its applied_updates row is new; if it fails, the row is taken
  /// back so that a retry applies.
  caf::error change_task(const task_envelope& t, const std::string& batch);

  /// task_order: `batch` is now the newest applied to task `id`; a failure fails the group.
  caf::error record_order(std::int64_t id, const std::string& batch);

  /// A later batch applied to the task already: records (batch, task) as superseded by it.
  caf::error supersede(const task_envelope& t, const std::string& batch, std::uint64_t newest);

  /// Sets the audit row's old values to the task as it is now, where they differ.
  caf::error correct_audit(const std::string& batch, std::int64_t id);

  statement insert_select_; ///< reads the next version from tasks
  statement insert_values_; ///< binds the scanned next version
  statement insert_superseded_;
  statement delete_;
  statement task_update_;
  statement newest_batch_;  ///< ?1 id: the task's newest applied batch (NULL if none)
  statement order_;         ///< ?1 id, ?2 batch: task_order upsert
  statement stale_audits_;  ///< ?1 batch, ?2..?3 ids: tasks whose audit old values are out of date
  statement correct_audit_; ///< ?1 batch, ?2 id
  /// chunk_scanned: per id - audit_first_, whether the audit row is out of date; empty when
  /// the chunk could not be checked at once (then every task goes through write_one()).
  std::vector<char> stale_audit_;
  std::int64_t audit_first_ = 0;
};

class notify_writer final : public row_writer {
public:
  explicit notify_writer(store_parts parts);

private:
  caf::error write_one(const task_envelope& t, const snapshot_row* row) override;
  void bind_values(sqlite3_stmt* s, int& k, std::size_t j, const task_envelope& t,
                   const snapshot_row& row) override;

  statement insert_values_;
  std::string message_;               ///< write_one's message
  std::vector<std::string> messages_; ///< each pending row's message (bound static; never resized)
};

} // namespace taskpipe::sqlite
