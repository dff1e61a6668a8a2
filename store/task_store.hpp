// The task store: one interface, one folder per implementation (memory/, sqlite/, postgres/) and what they
// share (errors, options, the factory, timestamps, the outbox message). Implementations are NOT
// thread-safe and may block: only the store actor (actors/store_actor.*) calls them, on its own
// thread when they block.
#pragma once

#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "messages/task.hpp"
#include "store/journal.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

// -- errors ---------------------------------------------------------------------------------------

/// Every error of the store is a caf::error of this category. Its code is the failure_code a task
/// fails with (not_found or storage_error), plus one (caf::error reserves 0 for "no error"); its
/// context is one string, the reason in words a user can act on.
inline constexpr caf::atom_value store_error_category = caf::atom("store");

caf::error make_store_error(failure_code code, std::string reason);

/// The store refused or lost a write, or cannot be opened or read.
caf::error storage_error(std::string reason);

/// The failure code a task fails with for `err`: storage_error for errors that are not the store's.
failure_code code_of(const caf::error& err);

/// The reason of a store error; "" for none, a rendering of the error for one not of the store's.
std::string reason_of(const caf::error& err);

// -- the interface --------------------------------------------------------------------------------

/// One stage's store work for one chunk of tasks: the unit a group (one transaction) is made of.
struct chunk_work {
  stage where = stage::pipeline;
  std::vector<task_envelope> tasks;
  /// Per task, once the group ran: none when its work is done and committed, else why not.
  std::vector<caf::error> results;
};

/// Everything one flush of the store actor writes: the admitted batches to journal (numbered
/// already), the chunks' work and the outcomes to record. run_flush() fills in what failed.
struct store_flush {
  std::vector<journaled_batch> journal;
  /// Why journaling them failed (then none of them is durable), else none.
  caf::error journal_error;
  std::span<chunk_work> group;
  std::vector<batch_outcome> outcomes;
  /// Why recording them failed (then none of them is recorded), else none.
  caf::error outcomes_error;

  bool empty() const {
    return journal.empty() && group.empty() && outcomes.empty();
  }
};

/// How long finished batches are kept unless told otherwise (`--retention`).
inline constexpr std::chrono::milliseconds default_retention = std::chrono::hours{24};

class task_store {
public:
  virtual ~task_store();

  /// Whether the calls may block (file or network I/O): the store actor then gets a thread of its
  /// own so that the scheduler's threads never wait.
  virtual bool blocks() const = 0;

  /// Creates tasks 1..count (type Story, summary "Task <id>", version 1) where they do not exist.
  virtual caf::error seed(std::int64_t count) = 0;

  /// The stored task; not_found if there is none.
  virtual caf::expected<stored_task> find(std::int64_t id) = 0;

  /// How many rows each table holds.
  virtual caf::expected<store_counts> counts() = 0;

  /// The largest batch number the store holds rows or a journal entry of, 0 if none. Batch numbers are the
  /// admission order (per-key order in Update compares them), so a node numbers its batches on
  /// from here after a restart.
  virtual caf::expected<std::uint64_t> last_batch() = 0;

  /// Groups the following apply_chunk() calls into one transaction (group commit). A begin()
  /// while a group is open joins it.
  virtual void begin() = 0;

  /// One stage's store work for every task of a chunk, in order; afterwards results[i] (resized to
  /// tasks.size()) is none or why tasks[i] failed. The work of a task is keyed by
  /// (batch_id_text(t.batch), t.update.id), so that applying the same task twice changes nothing
  /// the second time:
  /// - validate: not_found if no task with that id exists (no write).
  /// - audit: one audit row with the task's current (old) and requested (new) type and summary.
  /// - update: applies the requested type/summary, bumps version by one and sets updated_at, and
  ///   records that it applied (batch, task) so that a second apply is a no-op. Per-key order:
  ///   when a later batch (a larger batch number) has already applied to the task, the task is
  ///   left as it is and the (batch, task) row records that it was superseded (the later value
  ///   stands, as if the two had been applied in admission order); the task succeeds. SQLite
  ///   also sets the audit row's old values to the task as this write found it, so that they
  ///   are the true previous values whatever happened between Audit and Update.
  /// - notify: one outbox row with outbox_message().
  /// - pipeline: nothing (no store work between stages).
  /// A write the store refuses yields storage_error with the store's reason. Joins the open group,
  /// else the chunk is a group of its own. A chunk is the unit of work: a store that talks to a
  /// server does one round trip per chunk, not per task.
  virtual void apply_chunk(stage where, const std::vector<task_envelope>& tasks,
                           std::vector<caf::error>& results)
    = 0;

  /// Commits the group: none on success, else why not (the group's writes are then rolled back
  /// and every task in it must be failed with storage_error). None when no group is open.
  virtual caf::error commit() = 0;

  /// Runs a whole group, what the store actor does with everything queued: begin(), each chunk's
  /// apply_chunk(), commit(); when the commit fails, every task of the group that had passed fails
  /// with storage_error "<stage> commit failed: <why>". A store may override it to send the whole
  /// group at once (a server's pipeline mode), with the same results.
  virtual void run_group(std::span<chunk_work> group);

  /// Runs one flush of the store actor: journal(), the group, record_outcomes(), each setting its
  /// part's results. Where joins_journal_to_group(), all of it is one transaction (SQLite: one
  /// fsync where there were three), and a failed commit fails every part; otherwise three.
  virtual void run_flush(store_flush& flush);

  // -- the batch journal (store/journal.hpp) --------------------------------------------------
  // Each call is one transaction (one round trip to a server) for all the batches it is given,
  // committed with the store's durability before it returns; or, inside a begin()/commit() group
  // where joins_journal_to_group(), a part of that group's transaction.

  /// Whether batch numbers come from the store: a counter every node on it shares (PostgreSQL's
  /// sequence), so that several fronts on one store never use the same number and the numbers
  /// are the admission order across them. Otherwise (false) the coordinator numbers its batches,
  /// counting on from last_batch().
  virtual bool numbers_batches() const;

  /// Whether journal() and record_outcomes() join an open begin()/commit() group as apply_chunk()
  /// does (their statements then in a savepoint of their own), so that run_flush() can commit a
  /// whole flush at once. Otherwise (false) each call is its own transaction.
  virtual bool joins_journal_to_group() const;

  /// Gives each batch the store's next number, in order (one round trip for all of them), before
  /// journal(); only where numbers_batches(). A number handed out is never handed out again,
  /// whatever happens to its batch.
  virtual caf::error number_batches(std::vector<journaled_batch>& batches);

  /// Records admitted batches (their tasks as one blob each). None: every one is durable;
  /// else nothing of them is, and they must not start.
  virtual caf::error journal(const std::vector<journaled_batch>& batches) = 0;

  /// Records cancel requests (finished_ms 0) and finished batches with their failures (the
  /// journal's task list is then dropped: only the report is kept).
  virtual caf::error record_outcomes(const std::vector<batch_outcome>& outcomes) = 0;

  /// Every journaled batch without a recorded finish, with what the store holds of its tasks.
  virtual caf::expected<resumable_batches> unfinished_batches() = 0;

  /// The report of a finished batch (failures sorted by id, then position; finished_ms set);
  /// not_found if the store has no finished batch of that number or it expired (retention).
  virtual caf::expected<batch_report> finished_report(std::uint64_t batch) = 0;

  /// A page of a finished batch's failures (messages/report.hpp, failure_page): sorted by task
  /// id, then position, those with task id > `after`, `limit` of them plus any further failures
  /// of the page's last id; `more` and `next` set when failures follow. Reads only the page's
  /// rows (and one more), not the whole list. not_found like finished_report().
  virtual caf::expected<failure_page> failures_after(std::uint64_t batch, std::int64_t after,
                                                     std::size_t limit)
    = 0;

  /// The batch journaled with Idempotency-Key `key` and its body digest; batch 0 when none was
  /// or its batch expired (a key lives as long as its batch's report).
  virtual caf::expected<key_owner> find_idempotency_key(const std::string& key) = 0;

  /// Removes expired batches (finished longer than retention() ago) with their failures and
  /// Idempotency-Keys, oldest first, about `max_rows` rows at most in one transaction (so that
  /// a large purge does not hold up the pipeline's writes). Answers whether expired rows remain:
  /// call again. The contract's tables (tasks, audit, applied updates, outbox) are never touched.
  virtual caf::expected<bool> purge_expired(std::size_t max_rows) = 0;

  /// How long finished batches are kept (`--retention`; default 24 h). An expired batch is
  /// gone for every call above at once, whether or not purge_expired() removed its rows yet;
  /// journal() may reuse its Idempotency-Key.
  void set_retention(std::chrono::milliseconds keep) {
    retention_ = keep;
  }
  std::chrono::milliseconds retention() const {
    return retention_;
  }
  /// Batches finished before this (Unix milliseconds) have expired.
  std::int64_t expired_before_ms() const;

  /// One task's stage work: apply_chunk() with a chunk of one.
  caf::error apply(stage where, const task_envelope& t);

private:
  std::chrono::milliseconds retention_ = default_retention;
};

// -- opening a store ------------------------------------------------------------------------------

enum class store_kind : std::uint8_t { sqlite, memory, postgres };

/// What a commit promises (`--durability`; SQLite).
enum class durability : std::uint8_t {
  full,   ///< on disk (fsynced) before commit() returns: nothing is answered before that
  normal, ///< survives a crash of the process, not a power loss or OS crash (WAL synchronous=NORMAL)
};

struct store_options {
  store_kind kind = store_kind::sqlite;
  /// Where the store lives: for SQLite the file (created if missing); for PostgreSQL a libpq URI
  /// or conninfo ("" = the PG* environment variables).
  std::string location = "taskpipe.db";
  durability sync = durability::full;
  /// How long a write waits for another connection's lock before it fails (SQLite).
  std::chrono::milliseconds busy_timeout{5000};
  /// How long finished batches are kept (task_store::set_retention).
  std::chrono::milliseconds retention = default_retention;
};

/// Opens the store `opts` describe; the error names the location and what is wrong.
caf::expected<std::unique_ptr<task_store>> open_store(const store_options& opts);

// -- shared by the implementations ----------------------------------------------------------------

/// Milliseconds since the Unix epoch, now.
std::int64_t unix_now_ms();

/// `unix_ms` as the store writes timestamps: UTC, ISO 8601 with milliseconds,
/// "2026-11-27T23:01:02.345Z".
std::string utc_text(std::int64_t unix_ms);

/// Notify's outbox message for a task as it is after its update, e.g.
/// `task 17 updated to version 2: type Story, summary "Rename \"login\" page"` (the summary quoted
/// with '\' and '"' escaped, so that it reads unambiguously). Appends to `out`.
void append_outbox_message(std::string& out, std::int64_t id, std::int64_t version,
                           std::string_view type, std::string_view summary);

} // namespace taskpipe
