// The PostgreSQL store's batch journal (store/journal.hpp): SQLite's tables (schema.cpp), the task
// list a bytea blob, and each call one pipeline: one round trip for all the batches it is given
// (a write in a transaction of its own, BEGIN ... COMMIT in the same pipeline).
//
// Faults. A call that finds the connection ended (the server restarted while the node was idle)
// runs again on a new one when nothing of it can have run: the server ended the connection before
// the call's BEGIN, or the call is idempotent (recording outcomes; reads). Otherwise the error
// says the outcome is unknown. Batch numbers come from the sequence taskpipe_batch_numbers
// (number_batches), shared by every front on the database.
//
// Several fronts. Each batch row names the front that runs it (batches.front: a random number
// the store picks when it opens), and a front holds the advisory lock of its number on each of
// its connections. A front starting up resumes the unfinished batches of fronts that hold no such
// lock any more (they are gone: killed, or stopped), taking them over, and leaves those of the
// fronts still running alone.
#pragma once

#include "store/journal.hpp"
#include "store/postgres/connection.hpp"
#include "store/task_store.hpp"

#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace taskpipe::postgres {

/// Prepares the journal's statements on a new connection.
caf::error prepare_journal_statements(connection& db);

/// The next `batches.size()` numbers of the sequence, in order, as the batches' numbers.
caf::error number_batches(connection& db, std::vector<journaled_batch>& batches);

/// Takes the advisory lock of front number `front` (shared) for the connection's lifetime: while
/// any connection of the front holds it, its unfinished batches are not another front's.
caf::error take_front_lock(connection& db, std::int64_t front);

/// Journals the batches as front `front`'s.
caf::error journal(connection& db, const std::vector<journaled_batch>& batches,
                   std::int64_t front, std::int64_t expired_before_ms);

caf::error record_outcomes(connection& db, const std::vector<batch_outcome>& outcomes);

/// Front `front`'s unfinished batches, after it took over those of every front that is gone (no
/// connection holds its lock).
caf::expected<resumable_batches> unfinished_batches(connection& db, std::int64_t front);

// Retention (task_store::retention): batches finished before `expired_before_ms` are gone for
// every read at once; purge_expired() removes their rows in slices.
caf::expected<batch_report> finished_report(connection& db, std::uint64_t batch,
                                            std::int64_t expired_before_ms);
caf::expected<failure_page> failures_after(connection& db, std::uint64_t batch,
                                           std::int64_t after, std::size_t limit,
                                           std::int64_t expired_before_ms);
caf::expected<key_owner> find_idempotency_key(connection& db, const std::string& key,
                                              std::int64_t expired_before_ms);
caf::expected<bool> purge_expired(connection& db, std::size_t max_rows,
                                  std::int64_t expired_before_ms);

} // namespace taskpipe::postgres
