// The coordinator's state, shared by its two source files: coordinator.cpp (admission, outcomes,
// deadlines, drain) and coordinator_reports.cpp (what it answers about batches: statuses,
// finished reports and their pages, the cache of finished reports, the dashboard's overview).
// Internal to actors/.
#pragma once

#include "actors/coordinator.hpp"
#include "actors/finished_reports.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace taskpipe::coordination {

using clock_time = caf::actor_clock::time_point;
using report_promise = caf::typed_response_promise<batch_report>;
using page_promise = caf::typed_response_promise<failure_page>;

enum class outcome : std::uint8_t { pending, succeeded, failed };

/// A batch from admission until it is answered (then its report moves to the cache of finished
/// reports and the record goes).
struct batch_record {
  std::uint64_t id = 0;
  std::uint64_t total = 0;
  // By position, until the batch is complete.
  std::vector<std::int64_t> ids;     ///< task ids
  std::vector<outcome> outcomes;     ///< the first outcome of each task wins
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::vector<task_failure> failures;  ///< until it is complete (then in `rendered`)
  clock_time started;
  clock_time finished;
  std::chrono::milliseconds timeout{0};  ///< the deadline, from `started`
  std::int64_t admitted_ms = 0;          ///< Unix milliseconds, as journaled
  bool complete = false;  ///< every task has its outcome; the report is final (`rendered`)
  bool answered = false;  ///< complete, its outcome recorded (journal), its waiters answered
  std::string idempotency_key;  ///< "" for none
  std::string body_digest;
  bool cancelled = false;
  /// Its tasks were sent on (it is journaled, where the journal is on): only then is it answered.
  bool launched = false;
  /// Who is answered with its final report once that is recorded (answer_batch).
  std::vector<report_promise> waiters;
  /// Pages asked for while its final report was being recorded: answered with it.
  std::vector<std::tuple<page_promise, std::int64_t, std::size_t>> page_waiters;
  /// Retries (the same Idempotency-Key) that came before it started, and whether they wait.
  std::vector<std::pair<report_promise, bool>> early;
  shared_report rendered;  ///< once complete

  std::uint64_t pending() const {
    return total - succeeded - failed;
  }
};

/// What the dashboard asks for once a second (coordinator_overview), kept up to date per batch
/// and per failure chunk.
struct dashboard_book {
  static constexpr std::size_t recent_batches = 20;
  static constexpr std::size_t recent_failures = 20;
  std::deque<std::uint64_t> recent;  ///< the most recently admitted batch ids, oldest first
  std::uint64_t accepted = 0;        ///< tasks admitted since start
  std::vector<std::uint64_t> by_code = std::vector<std::uint64_t>(failure_code_count);
  std::deque<task_failure> last_failures;  ///< oldest first
};

struct coordinator_state {
  coordinator_config cfg;
  std::shared_ptr<pipeline_metrics> metrics;
  store_actor store;
  failure_aggregator_actor aggregator;
  std::vector<stage_actor> stages;  ///< validate, audit, update, notify
  std::unordered_map<std::uint64_t, batch_record> batches;  ///< admitted, not yet answered
  /// Finished reports (bounded; with the journal off, kept for the retention: nothing else
  /// holds them).
  finished_reports reports;
  /// Idempotency-Key -> batch, for batches in `batches` (and, with the journal off, in
  /// `reports`; with the journal the store knows the keys of finished batches).
  std::unordered_map<std::string, std::uint64_t> keys;
  /// Finished reports being read from the store, with who waits for each (one read per batch).
  std::unordered_map<std::uint64_t, std::vector<report_promise>> loading;
  std::uint64_t running = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t batches_done = 0;
  std::uint64_t batches_cancelled = 0;
  bool draining = false;
  std::vector<caf::typed_response_promise<done_atom>> drain_waiters;
  std::uint64_t last_batch = 0; ///< the number of the batch admitted last
  /// Where the store numbers batches (cfg.store_numbers): a batch is known by one of these until
  /// its number comes back (they never are batch numbers: those stay below 2^63).
  std::uint64_t next_provisional = std::uint64_t{1} << 63;
  dashboard_book book;
  static inline const char* name = "coordinator";
};

/// The coordinator also talks to itself: deadline timers.
using coordinator_impl = coordinator_actor::extend<
  // A batch's deadline passed: stages fail what they hold of it.
  caf::reacts_to<expire_atom, std::uint64_t>,
  // A batch's deadline plus grace passed; tasks still without outcome fail.
  caf::reacts_to<expire_atom, std::uint64_t, bool>>;

using coordinator_pointer = coordinator_impl::stateful_pointer<coordinator_state>;

// -- coordinator_reports.cpp ----------------------------------------------------------------------

/// Sets up the cache of finished reports from the config.
void init_reports(coordinator_pointer self);

/// Answers `promise` with the batch's report: its status while it runs; its final report once
/// that is recorded (journal). While it is being recorded the promise waits for it: no final
/// report goes out before it is durable.
void deliver_report(coordinator_pointer self, batch_record& b, report_promise& promise);

/// The report of a finished batch (its head and the shared rendered report).
batch_report finished_answer(const shared_report& r);

/// Completes `b` (every task has its outcome): renders its report once and, with the journal,
/// records its outcome before anyone is answered; then answer_batch.
void complete_batch(coordinator_pointer self, batch_record& b);

/// Answers a request for `b`, admitted earlier under the same Idempotency-Key, as the original
/// request would have been answered: its final report (`wait`) or its status. `digest` is the
/// new request's body digest: another body is 422.
void answer_again(coordinator_pointer self, batch_record& b, const std::string& digest, bool wait,
                  report_promise& promise);

/// Answers a request for batch `id`, which has started: with its report once it is answered
/// (`wait`), else its status now (from the cache if it finished at once).
void answer_started(coordinator_pointer self, std::uint64_t id, report_promise& promise,
                    bool wait);

/// Answers a request under the Idempotency-Key of batch `id`, which the node holds as running
/// or finished; false when it holds neither (forgotten: ask the store).
bool answer_known_key(coordinator_pointer self, std::uint64_t id, const std::string& digest,
                      bool wait, report_promise& promise);

/// The Idempotency-Key of a finished batch is in the store (journal): answers the request with
/// its report, read back if needed.
void answer_stored_key(coordinator_pointer self, std::uint64_t owner, bool wait,
                       report_promise& promise);

/// Answers `promise` with the report of batch `id` if the node holds it (running, or finished
/// and cached); false if it does not.
bool answer_held(coordinator_pointer self, std::uint64_t id, report_promise& promise);

/// GET /v1/batches/{id} (and DELETE of a finished batch): the status of batch `text`, from
/// memory, else from the cache, else from the store (journal); unknown_batch otherwise.
caf::result<batch_report> status_of(coordinator_pointer self, const std::string& text);

/// GET /v1/batches/{id}/failures: a page of batch `text`'s failures.
caf::result<failure_page> failures_of(coordinator_pointer self, const std::string& text,
                                      std::int64_t after, std::uint64_t limit);

/// The dashboard's overview.
coordinator_overview make_overview(coordinator_pointer self);

/// Counts the failures recorded from `first` on by code and keeps the last few.
void note_failures(dashboard_book& book, const std::vector<task_failure>& failures,
                   std::size_t first);

/// Refusal idempotency_key_reused: `key` named a batch of another body.
caf::error key_reused(const std::string& key);

/// A batch that is not known: refusal unknown_batch.
caf::error unknown_batch(const std::string& text);

// -- coordinator.cpp ------------------------------------------------------------------------------

/// Ends every actor the coordinator started, answers the drain, quits.
void shutdown(coordinator_pointer self);

/// The record of batch `text` (its batch_id) while it is admitted and not yet answered.
batch_record* find_batch(coordinator_pointer self, const std::string& text);

} // namespace taskpipe::coordination
