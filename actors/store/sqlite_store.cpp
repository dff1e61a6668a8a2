// The SQLite task store.
//
// Schema (the contract's, created with CREATE TABLE IF NOT EXISTS; each row table keyed by
// (batch_id, task_id), WITHOUT ROWID):
//   tasks(id INTEGER PRIMARY KEY, type, summary, version, updated_at)
//   audit(batch_id, task_id, old_type, old_summary, new_type, new_summary, at)
//     new_type / new_summary are NULL when the update did not ask to change that field.
//   applied_updates(batch_id, task_id, version, at)
//     Update's record that it applied (batch, task), with the version that change produced.
//   outbox(batch_id, task_id, message, created_at)
// batch_id is batch_id_text(batch) ("b-" + 16 hex digits); timestamps are UTC ISO 8601 with
// milliseconds ("2026-11-27T23:01:02.345Z"), taken once per begin()/commit() group.
//
// Every write is INSERT OR IGNORE on the (batch_id, task_id) key, so a retried task changes
// nothing the second time. Audit copies the old values with INSERT ... SELECT FROM tasks; the
// applied_updates and outbox rows use a one-row VALUES with one scalar subquery on tasks (cheaper:
// no statement journal), which yields NULL for a NOT NULL column when the task is gone, so OR
// IGNORE drops the row. Either way, a row that was not written and does not exist from before is
// reported as storage_error "task <id> does not exist any more".
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
// next version and message (built in C++, the same text as the SQL) instead of reading tasks per
// row. Results are exactly apply()'s: a task the scan did not find, and in update a task already
// written by the same chunk (duplicates), goes through the per-task statements.
// The scanned tasks' rows are written 64 at a time with one multi-row INSERT OR IGNORE (cached
// per row count); update's carries RETURNING task_id, so exactly the tasks whose applied_updates
// row is new get changed (per task, as apply() does). When fewer rows were written than sent (a
// retry), each row is checked as apply() would; when the statement fails, its rows are redone one
// by one so that only the refused task fails; when it rolled back the whole transaction, they are
// replayed in a transaction of their own (then rolled back) so that each task reports what apply()
// would: the refused task its reason, the later ones "rolled back".
//
// Checkpoints: a WAL hook replaces SQLite's automatic checkpoint (same 1000-frame threshold) and
// hands it to a thread with a connection of its own (PASSIVE: it never blocks the writer); if the
// WAL still grows past 16x the threshold, the store checkpoints inline as SQLite would.
#include "actors/store/task_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace taskpipe {

namespace {

std::string utc_now_text() {
  return utc_text(unix_now_ms());
}

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

/// SQLite keeps global memory statistics behind a global mutex on every allocation; nothing here
/// reads them. Only possible before SQLite initializes (else SQLITE_MISUSE, harmlessly ignored).
void disable_memory_statistics() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void) done;
}

struct db_closer {
  void operator()(sqlite3* db) const noexcept {
    sqlite3_close_v2(db);
  }
};

struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept {
    sqlite3_finalize(s);
  }
};

using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

/// Resets a statement when leaving scope, whatever happened, so that it releases its locks and can
/// run again. Bindings stay but are always rebound before the next step.
class reset_on_exit {
public:
  explicit reset_on_exit(sqlite3_stmt* s) noexcept : s_(s) {
  }
  reset_on_exit(const reset_on_exit&) = delete;
  reset_on_exit& operator=(const reset_on_exit&) = delete;
  ~reset_on_exit() {
    sqlite3_reset(s_);
  }

private:
  sqlite3_stmt* s_;
};

/// Checkpoints the WAL on a thread and connection of its own when asked, so that the store's
/// thread only appends to the WAL. PASSIVE checkpoints never block the writer.
class checkpointer {
public:
  /// Null if no second connection can be opened (the store then checkpoints inline).
  static std::unique_ptr<checkpointer> open(const std::string& path) {
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr)
        != SQLITE_OK) {
      sqlite3_close_v2(raw);
      return nullptr;
    }
    sqlite3_busy_timeout(raw, 5000);
    sqlite3_exec(raw, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    return std::unique_ptr<checkpointer>{new checkpointer{raw}};
  }

  checkpointer(const checkpointer&) = delete;
  checkpointer& operator=(const checkpointer&) = delete;

  ~checkpointer() {
    {
      std::lock_guard<std::mutex> guard{mx_};
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    sqlite3_close_v2(db_);
  }

  void request() {
    {
      std::lock_guard<std::mutex> guard{mx_};
      if (requested_)
        return;
      requested_ = true;
    }
    cv_.notify_one();
  }

private:
  explicit checkpointer(sqlite3* db) : db_(db), thread_([this] { run(); }) {
  }

  void run() {
    std::unique_lock<std::mutex> lock{mx_};
    for (;;) {
      cv_.wait(lock, [this] { return requested_ || stop_; });
      if (stop_)
        return;
      requested_ = false;
      lock.unlock();
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  sqlite3* db_;
  std::mutex mx_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stop_ = false;
  std::thread thread_; // last: starts once the rest is ready
};

class sqlite_store final : public task_store {
public:
  explicit sqlite_store(const std::string& path) : path_(path) {
    disable_memory_statistics();
    sqlite3* raw = nullptr;
    auto rc = sqlite3_open_v2(path.c_str(), &raw,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK)
      fail_open(db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc));
    // More lookaside slots: most of a statement's small allocations then avoid malloc.
    sqlite3_db_config(db_.get(), SQLITE_DBCONFIG_LOOKASIDE, nullptr, 512, 1024);
    sqlite3_busy_timeout(db_.get(), 5000);
    exec_or_throw("PRAGMA journal_mode=WAL");
    exec_or_throw("PRAGMA synchronous=NORMAL");
    exec_or_throw("PRAGMA foreign_keys=OFF");
    exec_or_throw("PRAGMA cache_size=-16384"); // KiB
    exec_or_throw("PRAGMA temp_store=MEMORY");
    exec_or_throw(schema_sql);
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
    task_exists_ = prepare("SELECT 1 FROM tasks WHERE id = ?1");
    audit_insert_ = prepare(
      "INSERT OR IGNORE INTO audit(batch_id, task_id, old_type, old_summary, new_type, "
      "new_summary, at) SELECT ?1, id, type, summary, ?2, ?3, ?4 FROM tasks WHERE id = ?5");
    audit_exists_ = prepare("SELECT 1 FROM audit WHERE batch_id = ?1 AND task_id = ?2");
    applied_insert_ = prepare(
      "INSERT OR IGNORE INTO applied_updates(batch_id, task_id, version, at) "
      "VALUES(?1, ?3, (SELECT version + 1 FROM tasks WHERE id = ?3), ?2)");
    applied_exists_ = prepare(
      "SELECT 1 FROM applied_updates WHERE batch_id = ?1 AND task_id = ?2");
    applied_delete_ = prepare(
      "DELETE FROM applied_updates WHERE batch_id = ?1 AND task_id = ?2");
    task_update_ = prepare(
      "UPDATE tasks SET type = coalesce(?1, type), summary = coalesce(?2, summary), "
      "version = version + 1, updated_at = ?3 WHERE id = ?4");
    // The message quotes the summary with '\' and '"' escaped, so it reads unambiguously.
    outbox_insert_ = prepare(R"sql(
      INSERT OR IGNORE INTO outbox(batch_id, task_id, message, created_at)
      VALUES(?1, ?3,
             (SELECT 'task ' || id || ' updated to version ' || version || ': type ' || type
                || ', summary "' || replace(replace(summary, '\', '\\'), '"', '\"') || '"'
              FROM tasks WHERE id = ?3),
             ?2))sql");
    outbox_exists_ = prepare("SELECT 1 FROM outbox WHERE batch_id = ?1 AND task_id = ?2");
    // The chunk-wise forms: the task's values come from one range scan per chunk (bound).
    ids_in_range_ = prepare("SELECT id FROM tasks WHERE id BETWEEN ?1 AND ?2");
    rows_in_range_ = prepare(
      "SELECT id, type, summary, version FROM tasks WHERE id BETWEEN ?1 AND ?2");
    audit_values_ = prepare(
      "INSERT OR IGNORE INTO audit(batch_id, task_id, old_type, old_summary, new_type, "
      "new_summary, at) VALUES(?1, ?5, ?6, ?7, ?2, ?3, ?4)");
    applied_values_ = prepare(
      "INSERT OR IGNORE INTO applied_updates(batch_id, task_id, version, at) "
      "VALUES(?1, ?3, ?4, ?2)");
    outbox_values_ = prepare(
      "INSERT OR IGNORE INTO outbox(batch_id, task_id, message, created_at) "
      "VALUES(?1, ?3, ?4, ?2)");
    find_ = prepare("SELECT type, summary, version, updated_at FROM tasks WHERE id = ?1");
    counts_ = prepare("SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM audit), "
                      "(SELECT count(*) FROM applied_updates), (SELECT count(*) FROM outbox)");
    seed_ = prepare(
      "WITH RECURSIVE ids(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM ids WHERE x < ?2) "
      "INSERT OR IGNORE INTO tasks(id, type, summary, version, updated_at) "
      "SELECT x, 'Story', 'Task ' || x, 1, ?3 FROM ids");
    // Replaces SQLite's automatic checkpoint (same threshold) by the checkpointer's.
    checkpointer_ = checkpointer::open(path_);
    sqlite3_wal_hook(db_.get(), &sqlite_store::on_wal_commit, this);
  }

  ~sqlite_store() override {
    if (db_ && !sqlite3_get_autocommit(db_.get()))
      step_plain(rollback_.get());
    checkpointer_.reset(); // its connection closes before ours, which then cleans up the WAL
    // Statements are finalized before db_ closes (members die in reverse order).
  }

  void seed(std::int64_t count) override {
    constexpr std::int64_t chunk = 1'000'000; // ids per transaction
    auto now = utc_now_text();
    for (std::int64_t first = 1; first <= count;) {
      auto last = count - first < chunk ? count : first + chunk - 1;
      bool own_txn = sqlite3_get_autocommit(db_.get()) != 0;
      if (own_txn && step_plain(begin_.get()) != SQLITE_DONE)
        throw std::runtime_error("seeding tasks failed: " + errmsg());
      auto* s = seed_.get();
      int rc;
      std::string err;
      {
        reset_on_exit guard{s};
        sqlite3_bind_int64(s, 1, first);
        sqlite3_bind_int64(s, 2, last);
        sqlite3_bind_text(s, 3, now.data(), static_cast<int>(now.size()), SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
          err = errmsg();
      }
      if (rc == SQLITE_DONE && own_txn && step_plain(commit_.get()) != SQLITE_DONE) {
        rc = SQLITE_ERROR;
        err = errmsg();
      }
      if (rc != SQLITE_DONE) {
        if (own_txn && !sqlite3_get_autocommit(db_.get()))
          step_plain(rollback_.get());
        throw std::runtime_error("seeding tasks failed: " + err);
      }
      if (last == count)
        break;
      first = last + 1;
    }
  }

  caf::optional<stored_task> find(std::int64_t id) override {
    auto* s = find_.get();
    reset_on_exit guard{s};
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW)
      return caf::none; // absent, or unreadable: either way there is no task to show
    stored_task result;
    result.id = id;
    result.type = column_text(s, 0);
    result.summary = column_text(s, 1);
    result.version = sqlite3_column_int64(s, 2);
    result.updated_at = column_text(s, 3);
    return result;
  }

  store_counts counts() override {
    store_counts result;
    auto* s = counts_.get();
    reset_on_exit guard{s};
    if (sqlite3_step(s) == SQLITE_ROW) {
      result.tasks = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
      result.audit_rows = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
      result.applied_updates = static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
      result.outbox_rows = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
    }
    return result;
  }

  void begin() override {
    if (in_group_)
      return; // already grouping: the calls join the open group
    in_group_ = true;
    group_error_.clear();
    now_ = utc_now_text();
    if (!sqlite3_get_autocommit(db_.get()))
      return; // a transaction is already open on this connection: join it
    if (step_plain(begin_.get()) != SQLITE_DONE)
      group_error_ = "begin transaction failed: " + errmsg();
  }

  std::string commit() override {
    if (!in_group_)
      return {};
    in_group_ = false;
    auto err = std::move(group_error_);
    group_error_.clear();
    if (err.empty() && !sqlite3_get_autocommit(db_.get())
        && step_plain(commit_.get()) != SQLITE_DONE)
      err = "commit failed: " + errmsg();
    if (!err.empty() && !sqlite3_get_autocommit(db_.get()))
      step_plain(rollback_.get());
    return err;
  }

  store_result apply(stage where, const task_envelope& t) override {
    switch (where) {
      case stage::validate:
        return validate(t.update.id);
      case stage::audit:
      case stage::update:
      case stage::notify:
        break;
      default:
        return store_result::ok(); // no store work between stages
    }
    if (!in_group_) {
      // A lone write is a group of its own, so that it is atomic.
      begin();
      auto result = apply_in_group(where, t, nullptr);
      auto err = commit();
      if (result.outcome == store_result::kind::ok && !err.empty())
        return storage_error(std::move(err));
      return result;
    }
    return apply_in_group(where, t, nullptr);
  }

  void apply_chunk(stage where, const std::vector<task_envelope>& tasks,
                   std::vector<store_result>& results) override {
    results.assign(tasks.size(), store_result::ok());
    switch (where) {
      case stage::validate:
        validate_chunk(tasks, results);
        return;
      case stage::audit:
      case stage::update:
      case stage::notify:
        break;
      default:
        return; // no store work between stages
    }
    if (tasks.empty())
      return;
    if (!in_group_) {
      // A lone chunk is a group of its own.
      begin();
      write_chunk(where, tasks, results);
      if (auto err = commit(); !err.empty())
        for (auto& r : results)
          if (r.outcome == store_result::kind::ok)
            r = storage_error(err);
      return;
    }
    write_chunk(where, tasks, results);
  }

private:
  /// WAL frames after which a checkpoint is due (SQLite's default), and after which the store
  /// checkpoints itself because the checkpointer does not keep up.
  static constexpr int checkpoint_frames = 1000;
  static constexpr int inline_checkpoint_frames = 16 * checkpoint_frames;

  /// SQLite's WAL hook: runs after each commit with the number of frames in the WAL.
  static int on_wal_commit(void* arg, sqlite3* db, const char*, int frames) {
    auto* self = static_cast<sqlite_store*>(arg);
    if (frames < checkpoint_frames)
      return SQLITE_OK;
    if (self->checkpointer_ && frames < inline_checkpoint_frames)
      self->checkpointer_->request();
    else
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }

  /// One task as the chunk's range scan found it.
  struct snapshot_row {
    std::int64_t version = 0;
    std::uint32_t type_at = 0;
    std::uint32_t type_size = 0;
    std::uint32_t summary_at = 0;
    std::uint32_t summary_size = 0;
    bool present = false; ///< the task exists
    bool stale = false;   ///< written since the scan: use the per-task statements
  };

  // -- opening ------------------------------------------------------------------------------------

  [[noreturn]] void fail_open(const std::string& why) {
    db_.reset();
    throw std::runtime_error("cannot open the task store '" + path_ + "': " + why);
  }

  void exec_or_throw(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string why = msg ? msg : errmsg();
      sqlite3_free(msg);
      fail_open(why);
    }
  }

  stmt_ptr prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr)
        != SQLITE_OK)
      fail_open(errmsg() + " (in: " + sql + ")");
    return stmt_ptr{s};
  }

  // -- helpers ------------------------------------------------------------------------------------

  std::string errmsg() const {
    return sqlite3_errmsg(db_.get());
  }

  static std::string column_text(sqlite3_stmt* s, int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    return p ? std::string{p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))}
             : std::string{};
  }

  static store_result storage_error(std::string reason) {
    return {store_result::kind::storage_error, std::move(reason)};
  }

  /// Runs a statement without parameters to completion and resets it; returns the step's code.
  static int step_plain(sqlite3_stmt* s) {
    reset_on_exit guard{s};
    return sqlite3_step(s);
  }

  const std::string& batch_text(std::uint64_t batch) {
    if (!have_batch_ || batch != cached_batch_) {
      cached_batch_text_ = batch_id_text(batch);
      cached_batch_ = batch;
      have_batch_ = true;
    }
    return cached_batch_text_;
  }

  static void bind_text(sqlite3_stmt* s, int idx, std::string_view text) {
    // A null pointer would bind NULL: an empty text must stay text.
    sqlite3_bind_text(s, idx, text.data() ? text.data() : "", static_cast<int>(text.size()),
                      SQLITE_STATIC);
  }

  static void bind_optional(sqlite3_stmt* s, int idx, const caf::optional<std::string>& text) {
    if (text)
      bind_text(s, idx, *text);
    else
      sqlite3_bind_null(s, idx);
  }

  /// Runs a key lookup (?1 batch, ?2 task) and reports whether a row exists; -1 on error.
  int key_exists(sqlite3_stmt* s, const std::string& batch, std::int64_t id) {
    reset_on_exit guard{s};
    bind_text(s, 1, batch);
    sqlite3_bind_int64(s, 2, id);
    auto rc = sqlite3_step(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
  }

  int task_exists(std::int64_t id) {
    auto* s = task_exists_.get();
    reset_on_exit guard{s};
    sqlite3_bind_int64(s, 1, id);
    auto rc = sqlite3_step(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
  }

  /// Explains why an INSERT OR IGNORE wrote no row: fine if the row is there already (a retry), an
  /// error if the task is gone or the row was dropped otherwise (a RAISE(IGNORE) trigger).
  store_result no_row_written(sqlite3_stmt* exists, const char* table, const std::string& batch,
                              std::int64_t id) {
    switch (key_exists(exists, batch, id)) {
      case 1:
        return store_result::ok();
      case 0:
        break;
      default:
        return storage_error(std::string{table} + " lookup failed: " + errmsg());
    }
    switch (task_exists(id)) {
      case 0:
        return storage_error("task " + std::to_string(id) + " does not exist any more");
      case 1:
        return storage_error(std::string{table} + " row for task " + std::to_string(id)
                             + " was not written (the database ignored the insert)");
      default:
        return storage_error("task lookup failed: " + errmsg());
    }
  }

  // -- the stages ---------------------------------------------------------------------------------

  static store_result not_found(std::int64_t id) {
    return {store_result::kind::not_found, "task " + std::to_string(id) + " does not exist"};
  }

  store_result validate(std::int64_t id) {
    switch (task_exists(id)) {
      case 1:
        return store_result::ok();
      case 0:
        return not_found(id);
      default:
        return storage_error("task lookup failed: " + errmsg());
    }
  }

  // -- chunks -------------------------------------------------------------------------------------

  /// Chunks usually hold consecutive ids: one range scan then answers for all of them. A chunk
  /// whose ids spread much wider than its size is done task by task instead.
  bool dense_ids(const std::vector<task_envelope>& tasks, std::int64_t& first,
                 std::int64_t& last) const {
    if (tasks.empty())
      return false;
    first = last = tasks.front().update.id;
    for (const auto& t : tasks) {
      first = std::min(first, t.update.id);
      last = std::max(last, t.update.id);
    }
    auto span = static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first);
    return span < 4 * static_cast<std::uint64_t>(tasks.size()) + 64;
  }

  /// Reads the chunk's tasks (ids only, or with their values) with one range scan into snap_rows_;
  /// false if the ids are not dense enough or the scan failed (the caller then goes task by task,
  /// whose statements report any error).
  bool load_snapshot(const std::vector<task_envelope>& tasks, bool with_values) {
    std::int64_t first = 0;
    std::int64_t last = 0;
    if (!dense_ids(tasks, first, last))
      return false;
    snap_first_ = first;
    snap_rows_.assign(static_cast<std::size_t>(static_cast<std::uint64_t>(last)
                                               - static_cast<std::uint64_t>(first))
                        + 1,
                      snapshot_row{});
    snap_text_.clear();
    auto* s = with_values ? rows_in_range_.get() : ids_in_range_.get();
    reset_on_exit guard{s};
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, last);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      auto id = sqlite3_column_int64(s, 0);
      if (id < first || id > last)
        return false; // cannot happen; do not trust the scan then
      auto& row = snap_rows_[static_cast<std::size_t>(static_cast<std::uint64_t>(id)
                                                      - static_cast<std::uint64_t>(first))];
      row.present = true;
      if (!with_values)
        continue;
      row.version = sqlite3_column_int64(s, 3);
      if (!append_text(s, 1, row.type_at, row.type_size)
          || !append_text(s, 2, row.summary_at, row.summary_size))
        return false;
    }
    return rc == SQLITE_DONE;
  }

  /// Copies a text column to snap_text_; false if it is NULL or does not fit the offsets.
  bool append_text(sqlite3_stmt* s, int col, std::uint32_t& at, std::uint32_t& size) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    if (!p)
      return false;
    auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, col));
    if (snap_text_.size() + n > 0xFFFF'FFFFu)
      return false;
    at = static_cast<std::uint32_t>(snap_text_.size());
    size = static_cast<std::uint32_t>(n);
    snap_text_.append(p, n);
    return true;
  }

  /// The snapshot's row for a task, if the task exists and was not written since the scan.
  snapshot_row* snapshot_of(std::int64_t id) {
    if (id < snap_first_)
      return nullptr;
    auto at = static_cast<std::uint64_t>(id) - static_cast<std::uint64_t>(snap_first_);
    if (at >= snap_rows_.size())
      return nullptr;
    auto& row = snap_rows_[static_cast<std::size_t>(at)];
    return row.present && !row.stale ? &row : nullptr;
  }

  std::string_view type_of(const snapshot_row& row) const {
    return std::string_view{snap_text_}.substr(row.type_at, row.type_size);
  }

  std::string_view summary_of(const snapshot_row& row) const {
    return std::string_view{snap_text_}.substr(row.summary_at, row.summary_size);
  }

  void validate_chunk(const std::vector<task_envelope>& tasks,
                      std::vector<store_result>& results) {
    bool scanned = load_snapshot(tasks, false);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      auto id = tasks[i].update.id;
      if (!scanned)
        results[i] = validate(id);
      else if (!snapshot_of(id))
        results[i] = not_found(id);
    }
  }

  void write_chunk(stage where, const std::vector<task_envelope>& tasks,
                   std::vector<store_result>& results) {
    bool scanned = group_error_.empty() && load_snapshot(tasks, true);
    pending_.clear();
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      auto id = tasks[i].update.id;
      auto* row = scanned ? snapshot_of(id) : nullptr;
      if (row) {
        pending_.push_back({i, row});
        // Update changes the task (or tries to): a later task of the chunk with the same id reads
        // it afresh, after the pending group is written.
        if (where == stage::update)
          row->stale = true;
        if (pending_.size() == group_rows)
          flush_group(where, tasks, results);
        continue;
      }
      flush_group(where, tasks, results);
      results[i] = apply_in_group(where, tasks[i], nullptr);
    }
    flush_group(where, tasks, results);
  }

  // -- multi-row writes ---------------------------------------------------------------------------

  /// Rows per multi-row statement (a chunk's remainder uses a statement of its own size).
  static constexpr std::size_t group_rows = 64;

  struct pending_row {
    std::size_t index;        ///< into the chunk
    const snapshot_row* row;  ///< the task as the chunk's scan found it
  };

  /// The cached multi-row statement of a stage for `n` rows; null if it cannot be prepared (the
  /// caller then goes row by row).
  sqlite3_stmt* group_statement(stage where, std::size_t n) {
    auto& cache = where == stage::audit    ? audit_groups_
                  : where == stage::update ? applied_groups_
                                           : outbox_groups_;
    if (cache.size() <= n)
      cache.resize(n + 1);
    if (cache[n])
      return cache[n].get();
    std::string sql;
    const char* row_sql;
    switch (where) {
      case stage::audit:
        sql = "INSERT OR IGNORE INTO audit(batch_id, task_id, old_type, old_summary, new_type, "
              "new_summary, at) VALUES";
        row_sql = "(?,?,?,?,?,?,?1)";
        break;
      case stage::update:
        sql = "INSERT OR IGNORE INTO applied_updates(batch_id, task_id, version, at) VALUES";
        row_sql = "(?,?,?,?1)";
        break;
      default:
        sql = "INSERT OR IGNORE INTO outbox(batch_id, task_id, message, created_at) VALUES";
        row_sql = "(?,?,?,?1)";
    }
    // ?1 is the group's timestamp (last in each row); the first row's leading parameter is
    // numbered ?2 so that the unnumbered ones after it are 3, 4, ... in order.
    sql.reserve(sql.size() + n * 20 + 32);
    for (std::size_t j = 0; j < n; ++j) {
      if (j > 0)
        sql += ',';
      sql += row_sql;
    }
    if (where == stage::update)
      sql += " RETURNING task_id"; // exactly the rows inserted: their tasks get changed
    auto first = sql.find("(?,");
    sql.replace(first, 3, "(?2,");
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr)
        != SQLITE_OK) {
      sqlite3_finalize(s);
      return nullptr;
    }
    cache[n].reset(s);
    return s;
  }

  /// Records a failed result's lost transaction, as apply_in_group does.
  void note_failure(const store_result& r) {
    if (r.outcome != store_result::kind::ok && group_error_.empty()
        && sqlite3_get_autocommit(db_.get()))
      group_error_ = "the transaction was rolled back: " + r.reason;
  }

  /// Writes the pending rows of a chunk with one multi-row statement; results are exactly what
  /// apply() gives task by task. A retry (fewer rows written than sent) is sorted out row by row;
  /// a statement that fails (a row the database refuses) is redone row by row, so that only the
  /// refused task fails.
  void flush_group(stage where, const std::vector<task_envelope>& tasks,
                   std::vector<store_result>& results) {
    if (pending_.empty())
      return;
    auto n = pending_.size();
    if (!group_error_.empty()) {
      for (const auto& p : pending_)
        results[p.index] = storage_error(group_error_);
      pending_.clear();
      return;
    }
    auto* s = group_statement(where, n);
    if (!s) {
      rows_one_by_one(where, tasks, results);
      return;
    }
    if (group_batch_.size() < n) {
      group_batch_.resize(n);
      group_message_.resize(n);
    }
    inserted_.assign(n, 0);
    int rc;
    std::string failure;
    int changes = 0;
    {
      reset_on_exit guard{s};
      bind_text(s, 1, now_);
      int k = 2;
      for (std::size_t j = 0; j < n; ++j) {
        const auto& t = tasks[pending_[j].index];
        const auto& row = *pending_[j].row;
        group_batch_[j] = batch_text(t.batch);
        bind_text(s, k++, group_batch_[j]);
        sqlite3_bind_int64(s, k++, t.update.id);
        switch (where) {
          case stage::audit:
            bind_text(s, k++, type_of(row));
            bind_text(s, k++, summary_of(row));
            bind_optional(s, k++, t.update.type);
            bind_optional(s, k++, t.update.summary);
            break;
          case stage::update:
            sqlite3_bind_int64(s, k++, row.version + 1);
            break;
          default:
            group_message_[j] = message_for(t.update.id, row);
            bind_text(s, k++, group_message_[j]);
        }
      }
      std::size_t cursor = 0;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        // RETURNING: mark the row inserted (the group's ids are distinct in update).
        auto id = sqlite3_column_int64(s, 0);
        for (std::size_t tries = 0; tries < n; ++tries, cursor = (cursor + 1) % n)
          if (tasks[pending_[cursor].index].update.id == id) {
            inserted_[cursor] = 1;
            break;
          }
      }
      if (rc == SQLITE_DONE)
        changes = sqlite3_changes(db_.get());
      else
        failure = errmsg();
    }
    if (rc != SQLITE_DONE) {
      redo_failed_group(where, tasks, results, failure);
      return;
    }
    if (where == stage::update) {
      for (std::size_t j = 0; j < n; ++j) {
        const auto& t = tasks[pending_[j].index];
        store_result r;
        if (!group_error_.empty())
          r = storage_error(group_error_);
        else if (!inserted_[j])
          r = no_row_written(applied_exists_.get(), "applied_updates", group_batch_[j],
                             t.update.id);
        else
          r = change_task(t, group_batch_[j]);
        note_failure(r);
        results[pending_[j].index] = std::move(r);
      }
    } else if (static_cast<std::size_t>(changes) < n) {
      // Some rows were there already (a retry): check each one as apply() would.
      auto* exists = where == stage::audit ? audit_exists_.get() : outbox_exists_.get();
      const char* table = where == stage::audit ? "audit" : "outbox";
      for (std::size_t j = 0; j < n; ++j) {
        store_result r = group_error_.empty()
                           ? no_row_written(exists, table, group_batch_[j],
                                            tasks[pending_[j].index].update.id)
                           : storage_error(group_error_);
        note_failure(r);
        results[pending_[j].index] = std::move(r);
      }
    }
    pending_.clear();
  }

  void rows_one_by_one(stage where, const std::vector<task_envelope>& tasks,
                       std::vector<store_result>& results) {
    for (const auto& p : pending_)
      results[p.index] = apply_in_group(where, tasks[p.index], p.row);
    pending_.clear();
  }

  /// The multi-row statement failed and wrote nothing. If only the statement was rolled back,
  /// redoing the rows one by one fails just the refused task. If the whole transaction was rolled
  /// back, the rows are replayed in a transaction of their own (rolled back afterwards) to tell
  /// which task the database refused: tasks before it succeed (and fail at commit), later ones
  /// fail as rolled back, as apply() would report.
  void redo_failed_group(stage where, const std::vector<task_envelope>& tasks,
                         std::vector<store_result>& results, const std::string& failure) {
    if (!sqlite3_get_autocommit(db_.get())) {
      rows_one_by_one(where, tasks, results);
      return;
    }
    const char* what = where == stage::audit    ? "audit insert failed: "
                       : where == stage::update ? "applied_updates insert failed: "
                                                : "outbox insert failed: ";
    auto reason = what + failure;
    if (step_plain(begin_.get()) == SQLITE_DONE) {
      rows_one_by_one(where, tasks, results);
      if (!sqlite3_get_autocommit(db_.get()))
        step_plain(rollback_.get());
    } else {
      bool first = true;
      for (const auto& p : pending_) {
        results[p.index] = storage_error(first ? reason
                                               : "the transaction was rolled back: " + reason);
        first = false;
      }
      pending_.clear();
    }
    if (group_error_.empty())
      group_error_ = "the transaction was rolled back: " + reason;
  }

  store_result apply_in_group(stage where, const task_envelope& t, const snapshot_row* row) {
    if (!group_error_.empty())
      return storage_error(group_error_);
    store_result result;
    switch (where) {
      case stage::audit:
        result = audit(t, row);
        break;
      case stage::update:
        result = update(t, row);
        break;
      default:
        result = notify(t, row);
    }
    if (result.outcome != store_result::kind::ok && sqlite3_get_autocommit(db_.get()))
      group_error_ = "the transaction was rolled back: " + result.reason;
    return result;
  }

  /// With `row` (the task as the chunk's scan found it) the old values are bound, else read.
  store_result audit(const task_envelope& t, const snapshot_row* row) {
    const auto& batch = batch_text(t.batch);
    auto id = t.update.id;
    auto* s = row ? audit_values_.get() : audit_insert_.get();
    {
      reset_on_exit guard{s};
      bind_text(s, 1, batch);
      bind_optional(s, 2, t.update.type);
      bind_optional(s, 3, t.update.summary);
      bind_text(s, 4, now_);
      sqlite3_bind_int64(s, 5, id);
      if (row) {
        bind_text(s, 6, type_of(*row));
        bind_text(s, 7, summary_of(*row));
      }
      if (sqlite3_step(s) != SQLITE_DONE)
        return storage_error("audit insert failed: " + errmsg());
      if (sqlite3_changes(db_.get()) > 0)
        return store_result::ok();
    }
    return no_row_written(audit_exists_.get(), "audit", batch, id);
  }

  /// With `row` (the task as the chunk's scan found it) the new version is bound, else read.
  store_result update(const task_envelope& t, const snapshot_row* row) {
    const auto& batch = batch_text(t.batch);
    auto id = t.update.id;
    {
      auto* s = row ? applied_values_.get() : applied_insert_.get();
      reset_on_exit guard{s};
      bind_text(s, 1, batch);
      bind_text(s, 2, now_);
      sqlite3_bind_int64(s, 3, id);
      if (row)
        sqlite3_bind_int64(s, 4, row->version + 1);
      if (sqlite3_step(s) != SQLITE_DONE)
        return storage_error("applied_updates insert failed: " + errmsg());
      if (sqlite3_changes(db_.get()) == 0)
        return no_row_written(applied_exists_.get(), "applied_updates", batch, id);
    }
    return change_task(t, batch);
  }

  /// Update's change of the task once its applied_updates row is new; if the change fails, the
  /// row is taken back so that a retry applies.
  store_result change_task(const task_envelope& t, const std::string& batch) {
    auto id = t.update.id;
    std::string failure;
    {
      auto* s = task_update_.get();
      reset_on_exit guard{s};
      bind_optional(s, 1, t.update.type);
      bind_optional(s, 2, t.update.summary);
      bind_text(s, 3, now_);
      sqlite3_bind_int64(s, 4, id);
      if (sqlite3_step(s) == SQLITE_DONE)
        return store_result::ok();
      failure = "task update failed: " + errmsg();
    }
    // Take back the applied_updates row so that a retry applies the change.
    if (!sqlite3_get_autocommit(db_.get())) {
      auto* s = applied_delete_.get();
      reset_on_exit guard{s};
      bind_text(s, 1, batch);
      sqlite3_bind_int64(s, 2, id);
      if (sqlite3_step(s) != SQLITE_DONE)
        group_error_ = failure + "; undoing its applied_updates row failed too: " + errmsg();
    }
    return storage_error(std::move(failure));
  }

  /// The outbox message; the same text as outbox_insert_ builds in SQL.
  const std::string& message_for(std::int64_t id, const snapshot_row& row) {
    auto& m = message_;
    m.clear();
    m += "task ";
    m += std::to_string(id);
    m += " updated to version ";
    m += std::to_string(row.version);
    m += ": type ";
    m += type_of(row);
    m += ", summary \"";
    for (char c : summary_of(row)) {
      if (c == '\\' || c == '"')
        m += '\\';
      m += c;
    }
    m += '"';
    return m;
  }

  /// With `row` (the task as the chunk's scan found it) the message is bound, else built in SQL.
  store_result notify(const task_envelope& t, const snapshot_row* row) {
    const auto& batch = batch_text(t.batch);
    auto id = t.update.id;
    {
      auto* s = row ? outbox_values_.get() : outbox_insert_.get();
      reset_on_exit guard{s};
      bind_text(s, 1, batch);
      bind_text(s, 2, now_);
      sqlite3_bind_int64(s, 3, id);
      if (row)
        bind_text(s, 4, message_for(id, *row));
      if (sqlite3_step(s) != SQLITE_DONE)
        return storage_error("outbox insert failed: " + errmsg());
      if (sqlite3_changes(db_.get()) > 0)
        return store_result::ok();
    }
    return no_row_written(outbox_exists_.get(), "outbox", batch, id);
  }

  // -- state --------------------------------------------------------------------------------------

  std::string path_;
  std::unique_ptr<sqlite3, db_closer> db_; // declared before the statements: closed after them
  stmt_ptr begin_;
  stmt_ptr commit_;
  stmt_ptr rollback_;
  stmt_ptr task_exists_;
  stmt_ptr audit_insert_;
  stmt_ptr audit_exists_;
  stmt_ptr applied_insert_;
  stmt_ptr applied_exists_;
  stmt_ptr applied_delete_;
  stmt_ptr task_update_;
  stmt_ptr outbox_insert_;
  stmt_ptr outbox_exists_;
  stmt_ptr ids_in_range_;
  stmt_ptr rows_in_range_;
  stmt_ptr audit_values_;
  stmt_ptr applied_values_;
  stmt_ptr outbox_values_;
  stmt_ptr find_;
  stmt_ptr counts_;
  stmt_ptr seed_;

  std::unique_ptr<checkpointer> checkpointer_; ///< reset first in the destructor

  bool in_group_ = false;
  std::string group_error_; ///< set when the group can no longer commit
  std::string now_;         ///< the group's timestamp

  /// The chunk's tasks as one range scan found them (see load_snapshot).
  std::int64_t snap_first_ = 0;
  std::vector<snapshot_row> snap_rows_;
  std::string snap_text_; ///< the rows' type and summary texts, back to back
  std::string message_;   ///< notify's message under construction

  /// Multi-row statements by row count (see group_statement), and a group's pending rows.
  std::vector<stmt_ptr> audit_groups_;
  std::vector<stmt_ptr> applied_groups_;
  std::vector<stmt_ptr> outbox_groups_;
  std::vector<pending_row> pending_;
  std::vector<std::string> group_batch_;   ///< each pending row's batch text (bound static)
  std::vector<std::string> group_message_; ///< each pending row's outbox message
  std::vector<char> inserted_;             ///< update: the rows RETURNING reported

  bool have_batch_ = false;
  std::uint64_t cached_batch_ = 0;
  std::string cached_batch_text_;
};

} // namespace

std::unique_ptr<task_store> make_sqlite_store(const std::string& path) {
  return std::make_unique<sqlite_store>(path);
}

} // namespace taskpipe
