// The memory store's batch journal (store/journal.hpp): the same records as SQLite's batches and
// batch_failures tables, kept in this process (nothing survives it). The task list is kept as
// encode_tasks' blob, as SQLite keeps it, and dropped once the batch finished.
#pragma once

#include "store/task_store.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace taskpipe {

class memory_journal {
public:
  /// Whether (batch, task id) has a row in the outbox / applied_updates table of the store.
  using has_row_fn = std::function<bool(std::uint64_t batch, std::int64_t id)>;

  // `expired_before_ms` as in sqlite/journal.hpp: batches finished before it are expired.
  caf::error journal(const std::vector<journaled_batch>& batches, std::int64_t expired_before_ms);
  caf::error record_outcomes(const std::vector<batch_outcome>& outcomes);
  caf::expected<resumable_batches> unfinished_batches(const has_row_fn& notified,
                                                      const has_row_fn& applied) const;
  caf::expected<batch_report> finished_report(std::uint64_t batch,
                                              std::int64_t expired_before_ms) const;
  caf::expected<failure_page> failures_after(std::uint64_t batch, std::int64_t after,
                                             std::size_t limit,
                                             std::int64_t expired_before_ms) const;
  caf::expected<key_owner> find_idempotency_key(const std::string& key,
                                                std::int64_t expired_before_ms) const;
  /// Removes expired batches (all at once: nothing here blocks on I/O).
  caf::expected<bool> purge_expired(std::int64_t expired_before_ms);

private:
  struct entry;
  /// The finished, unexpired batch `batch`; null if there is none.
  const entry* finished_entry(std::uint64_t batch, std::int64_t expired_before_ms) const;

  struct entry {
    journaled_batch admitted;  ///< without its tasks: they are in `tasks`
    std::string tasks;         ///< encode_tasks; empty once finished
    std::uint64_t total = 0;
    bool cancelled = false;
    bool finished = false;
    std::int64_t finished_ms = 0;
    batch_state state = batch_state::running;
    double elapsed_ms = 0;
    std::uint64_t succeeded = 0;
    std::vector<task_failure> failures;  ///< sorted by id, then position
  };

  std::unordered_map<std::uint64_t, entry> batches_;
  std::unordered_map<std::string, std::uint64_t> keys_;  ///< idempotency key -> batch
};

} // namespace taskpipe
