// The task store: one interface, two implementations (SQLite and memory) with the same behaviour.
// Implementations are NOT thread-safe and may block: only the store actor (a detached actor, its
// own thread) calls them.
#pragma once

#include "messages/outcome.hpp"
#include "messages/task.hpp"

#include <caf/optional.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace taskpipe {

/// What one stage's store work did to one task.
struct store_result {
  enum class kind : std::uint8_t { ok, not_found, storage_error };
  kind outcome = kind::ok;
  std::string reason;  ///< for storage_error: what the store said, in words a user can act on

  static store_result ok() { return {}; }
};

class task_store {
public:
  virtual ~task_store() = default;

  /// Creates tasks 1..count (type Story, summary "Task <id>", version 1) where they do not exist.
  virtual void seed(std::int64_t count) = 0;

  /// The stored task, or none.
  virtual caf::optional<stored_task> find(std::int64_t id) = 0;

  /// How many rows each table holds.
  virtual store_counts counts() = 0;

  /// Groups the following apply() calls into one transaction (group commit).
  virtual void begin() = 0;

  /// Commits the group; returns an empty string on success, else why it failed (the group's
  /// writes are then rolled back and every task in it must be failed with storage_error).
  virtual std::string commit() = 0;

  /// One stage's store work for one task, keyed by (batch_id_text(t.batch), t.update.id) so that
  /// applying the same task twice changes nothing the second time:
  /// - validate: not_found if no task with that id exists (no write).
  /// - audit: one audit row with the task's current (old) and requested (new) type and summary.
  /// - update: applies the requested type/summary, bumps version by one and sets updated_at, and
  ///   records that it applied (batch, task) so a second apply is a no-op.
  /// - notify: one outbox row with a human-readable message.
  /// A write the store refuses yields storage_error with the store's reason.
  virtual store_result apply(stage where, const task_envelope& t) = 0;

  /// The same stage's store work for every task of a chunk, in order: afterwards results[i] is
  /// what apply(where, tasks[i]) would have returned (results is resized to tasks.size()). Like
  /// apply(), it joins the open begin()/commit() group, else the chunk is a group of its own.
  /// Implementations may do the work set-wise (one lookup for many ids); this default just loops.
  virtual void apply_chunk(stage where, const std::vector<task_envelope>& tasks,
                           std::vector<store_result>& results) {
    results.clear();
    results.reserve(tasks.size());
    for (const auto& t : tasks)
      results.push_back(apply(where, t));
  }
};

/// Milliseconds since the Unix epoch, now.
std::int64_t unix_now_ms();

/// `unix_ms` as the store writes timestamps: UTC, ISO 8601 with milliseconds,
/// "2026-11-27T23:01:02.345Z".
std::string utc_text(std::int64_t unix_ms);

/// An in-process store with the same behaviour as SQLite, for tests and benchmarks.
std::unique_ptr<task_store> make_memory_store();

/// A SQLite store at `path` (created if missing; WAL, synchronous=NORMAL, busy timeout).
/// Throws std::runtime_error naming the path and SQLite's message when it cannot be opened.
std::unique_ptr<task_store> make_sqlite_store(const std::string& path);

} // namespace taskpipe
