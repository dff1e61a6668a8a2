// The SQLite task store.
//
// Schema (the contract's, created with CREATE TABLE IF NOT EXISTS in schema.cpp; each row table
// keyed by (batch_id, task_id), WITHOUT ROWID):
//   tasks(id INTEGER PRIMARY KEY, type, summary, version, updated_at)
//   audit(batch_id, task_id, old_type, old_summary, new_type, new_summary, at)
//     new_type / new_summary are NULL when the update did not ask to change that field.
//   applied_updates(batch_id, task_id, version, at)
//     Update's record that it applied (batch, task), with the version that change produced.
//   outbox(batch_id, task_id, message, created_at)
// batch_id is batch_id_text(batch) ("b-" + 16 hex digits); timestamps are UTC ISO 8601 with
// milliseconds ("2026-11-27T23:01:02.345Z"), taken once per begin()/commit() group.
//
// The parts: connection.* (the connection and statement tools), checkpointer.* (WAL checkpoints
// on a thread of their own), schema.* (tables and shared statements), transaction.* (the
// begin()/commit() group), snapshot.* (a chunk's range scan), writers.hpp with validate.cpp and
// row_writer.cpp, audit.cpp, update.cpp, notify.cpp (each stage's statements), journal.* (the
// batch journal: batches and batch_failures).
//
// Every write is INSERT OR IGNORE on the (batch_id, task_id) key, so a retried task changes
// nothing the second time. A single-row audit copies the old values with INSERT ... SELECT FROM
// tasks; a single-row applied_updates row uses a one-row VALUES with a scalar subquery on tasks
// (cheaper: no statement journal), which yields NULL for a NOT NULL column when the task is gone,
// so OR IGNORE drops the row; a single-row outbox row reads the task first for its message. Either
// way, a row that was not written and does not exist from before is reported as storage_error
// "task <id> does not exist any more".
// Update records applied_updates first and changes tasks only when that row is new; if changing
// tasks then fails, the applied_updates row is deleted again so that a retry applies.
// A statement that fails is reset and aborts only itself (SQLite's statement-level rollback): the
// rest of the group still commits. Errors that make SQLite roll back the whole transaction (disk
// full, I/O errors, RAISE(ROLLBACK)) are detected: every later write of the group fails and
// commit() reports the reason.
//
// apply_chunk() does a chunk's stage with one range scan of tasks over the chunk's ids (chunks
// usually hold consecutive ids; one whose ids spread more than 4x its size + 64 goes task by
// task): validate answers from the scan; audit, update and notify bind the scanned old values,
// next version and message (append_outbox_message(), the one place that builds it) instead of
// reading tasks per row. Results are exactly those of the single-row statements: a task the scan
// did not find, and in update a task already written by the same chunk (duplicates), goes through
// them.
// The scanned tasks' rows are written 64 at a time with one multi-row INSERT OR IGNORE (cached
// per row count); update's carries RETURNING task_id, so exactly the tasks whose applied_updates
// row is new get changed (per task). When fewer rows were written than sent (a retry), each row
// is checked as a single row would be; when the statement fails, its rows are redone one by one
// so that only the refused task fails; when it rolled back the whole transaction, they are
// replayed in a transaction of their own (then rolled back) so that each task reports what the
// single-row statements would: the refused task its reason, the later ones "rolled back".
#include "store/sqlite/sqlite_store.hpp"

#include "store/sqlite/checkpointer.hpp"
#include "store/sqlite/journal.hpp"
#include "store/sqlite/writers.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace taskpipe {

namespace {

using namespace taskpipe::sqlite;

class sqlite_store final : public task_store {
public:
  sqlite_store(connection db, sqlite_test_hooks hooks)
    : hooks_(std::move(hooks)),
      db_(std::move(db)),
      st_(db_),
      txn_(db_, st_),
      snapshot_(db_, st_),
      validate_(parts()),
      audit_(parts()),
      update_(parts()),
      notify_(parts()),
      journal_(db_, st_, txn_) {
    if (!db_.open_error())
      checkpointer_ = std::make_unique<checkpointer>(db_.get(), db_.path());
  }

  ~sqlite_store() override {
    if (db_.get() && !db_.autocommit())
      db_.step_once(st_.rollback.get()); // if this fails, closing the connection rolls back
    checkpointer_.reset(); // its connection closes before ours, which then cleans up the WAL
    // Statements are finalized before db_ closes (members die in reverse order).
  }

  sqlite3* native() const {
    return db_.get();
  }

  /// Why the store could not be opened; none if it is ready.
  const caf::error& open_error() const {
    return db_.open_error();
  }

  bool blocks() const override {
    return true;
  }

  caf::error seed(std::int64_t count) override {
    constexpr std::int64_t chunk = 1'000'000; // ids per transaction
    auto now = utc_text(unix_now_ms());
    for (std::int64_t first = 1; first <= count;) {
      auto last = count - first < chunk ? count : first + chunk - 1;
      bool own_txn = db_.autocommit();
      if (own_txn && db_.step_once(st_.begin.get()) != SQLITE_DONE)
        return storage_error("seeding tasks failed: " + db_.errmsg());
      auto* s = st_.seed.get();
      int rc;
      std::string err;
      {
        reset_on_exit guard{s};
        sqlite3_bind_int64(s, 1, first);
        sqlite3_bind_int64(s, 2, last);
        bind_text(s, 3, now);
        rc = db_.step(s);
        if (rc != SQLITE_DONE)
          err = db_.errmsg();
      }
      if (rc == SQLITE_DONE && own_txn && db_.step_once(st_.commit.get()) != SQLITE_DONE) {
        rc = SQLITE_ERROR;
        err = db_.errmsg();
      }
      if (rc != SQLITE_DONE) {
        if (own_txn && !db_.autocommit() && db_.step_once(st_.rollback.get()) != SQLITE_DONE)
          err += "; rolling back failed too: " + db_.errmsg();
        return storage_error("seeding tasks failed: " + err);
      }
      if (last == count)
        break;
      first = last + 1;
    }
    return caf::none;
  }

  caf::expected<stored_task> find(std::int64_t id) override {
    auto* s = st_.find.get();
    reset_on_exit guard{s};
    sqlite3_bind_int64(s, 1, id);
    auto rc = db_.step(s);
    if (rc == SQLITE_DONE)
      return task_not_found(id);
    if (rc != SQLITE_ROW)
      return storage_error("task lookup failed: " + db_.errmsg());
    stored_task result;
    result.id = id;
    result.type = column_text(s, 0);
    result.summary = column_text(s, 1);
    result.version = sqlite3_column_int64(s, 2);
    result.updated_at = column_text(s, 3);
    return result;
  }

  caf::expected<store_counts> counts() override {
    store_counts result;
    auto* s = st_.counts.get();
    reset_on_exit guard{s};
    if (db_.step(s) != SQLITE_ROW)
      return storage_error("counting rows failed: " + db_.errmsg());
    result.tasks = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    result.audit_rows = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
    result.applied_updates = static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
    result.outbox_rows = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
    return result;
  }

  caf::expected<std::uint64_t> last_batch() override {
    auto* s = st_.last_batch.get();
    reset_on_exit guard{s};
    std::uint64_t result = 0;
    if (db_.step(s) != SQLITE_ROW || !batch_column(s, 0, result))
      return storage_error("reading the last batch number failed: " + db_.errmsg());
    return result;
  }

  void begin() override {
    txn_.begin();
  }

  caf::error commit() override {
    if (hooks_.before_commit && txn_.in_group())
      hooks_.before_commit(db_.get());
    return txn_.commit();
  }

  void apply_chunk(stage where, const std::vector<task_envelope>& tasks,
                   std::vector<caf::error>& results) override {
    results.clear();
    results.resize(tasks.size());
    if (hooks_.before_chunk)
      hooks_.before_chunk(db_.get(), where);
    row_writer* writer = nullptr;
    switch (where) {
      case stage::validate:
        validate_.check_chunk(tasks, results);
        return;
      case stage::audit:
        writer = &audit_;
        break;
      case stage::update:
        writer = &update_;
        break;
      case stage::notify:
        writer = &notify_;
        break;
      default:
        return; // no store work between stages
    }
    if (tasks.empty())
      return;
    if (txn_.in_group()) {
      writer->write_chunk(tasks, results);
      return;
    }
    // A lone chunk is a group of its own, so that it is atomic.
    txn_.begin();
    writer->write_chunk(tasks, results);
    if (auto err = commit())
      for (auto& r : results)
        if (!r)
          r = err;
  }

  bool joins_journal_to_group() const override {
    return true;
  }

  caf::error journal(const std::vector<journaled_batch>& batches) override {
    return journal_.journal(batches, expired_before_ms());
  }

  caf::error record_outcomes(const std::vector<batch_outcome>& outcomes) override {
    return journal_.record_outcomes(outcomes);
  }

  caf::expected<resumable_batches> unfinished_batches() override {
    return journal_.unfinished_batches();
  }

  caf::expected<batch_report> finished_report(std::uint64_t batch) override {
    return journal_.finished_report(batch, expired_before_ms());
  }

  caf::expected<failure_page> failures_after(std::uint64_t batch, std::int64_t after,
                                             std::size_t limit) override {
    return journal_.failures_after(batch, after, limit, expired_before_ms());
  }

  caf::expected<key_owner> find_idempotency_key(const std::string& key) override {
    return journal_.find_idempotency_key(key, expired_before_ms());
  }

  caf::expected<bool> purge_expired(std::size_t max_rows) override {
    return journal_.purge_expired(max_rows, expired_before_ms());
  }

private:
  store_parts parts() {
    return {db_, st_, txn_, snapshot_, batch_text_};
  }

  sqlite_test_hooks hooks_;
  connection db_; // closed after everything that uses it
  statements st_;
  transaction txn_;
  chunk_snapshot snapshot_;
  batch_names batch_text_;
  validator validate_;
  audit_writer audit_;
  update_writer update_;
  notify_writer notify_;
  journal_tables journal_;
  std::unique_ptr<checkpointer> checkpointer_; ///< reset first in the destructor
};

} // namespace

caf::expected<std::unique_ptr<task_store>> open_sqlite_store(const store_options& opts,
                                                             sqlite_test_hooks hooks) {
  connection db;
  if (auto err = db.open(opts))
    return err;
  if (auto err = create_schema(db))
    return err;
  if (auto err = create_journal_schema(db))
    return err;
  auto opened = hooks.opened;
  auto store = std::make_unique<sqlite_store>(std::move(db), std::move(hooks));
  if (auto err = store->open_error())
    return err;
  if (opened)
    opened(store->native());
  return std::unique_ptr<task_store>{std::move(store)};
}

} // namespace taskpipe
