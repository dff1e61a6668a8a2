// Every typed actor interface of taskpipe, one comment per handler. Each interface holds what its
// clients send; an implementation that also talks to itself (timers, its own workers) extends its
// interface privately, in its own source file.
#pragma once

#include "messages/atoms.hpp"
#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "messages/stats.hpp"
#include "messages/task.hpp"
#include "store/journal.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace taskpipe {

/// The coordinator as its clients see it (`taskpipe run`, the HTTP front). Refusals arrive as
/// caf::error with a `refusal` code (see as_refusal): shutting_down, overloaded,
/// batch_too_large, unknown_batch.
using coordinator_client_actor = caf::typed_actor<
  // Admits a batch and answers with its final report once every task has an outcome.
  caf::replies_to<submit_atom, batch_request>::with<batch_report>,
  // Admits a batch and answers at once with its running status (batch_id set).
  caf::replies_to<start_atom, batch_request>::with<batch_report>,
  // The status of a batch by its batch_id text (once pending is 0 with its rendered report:
  // batch_report::finished, shared by every reader).
  caf::replies_to<status_atom, std::string>::with<batch_report>,
  // A page of a batch's failures: batch_id text, after (task id), limit (1 to
  // max_failure_page). From the cache of finished reports (shared), else from the store; while
  // the batch runs, of the failures recorded so far.
  caf::replies_to<failures_atom, std::string, std::int64_t, std::uint64_t>::with<failure_page>,
  // Cancels a batch: tasks not yet handed to Update fail with `cancelled`. Answers its status.
  caf::replies_to<cancel_atom, std::string>::with<batch_report>,
  // Stops admitting, finishes every admitted batch, then exits every actor it started. Answers
  // once all of that is done.
  caf::replies_to<drain_atom>::with<done_atom>,
  // Node-wide statistics: tasks in flight, and batches finished by state (done, cancelled).
  caf::replies_to<stats_atom>::with<std::uint64_t, std::uint64_t, std::uint64_t>>;

/// The coordinator as the pipeline sees it: where outcomes and node losses go.
using outcome_sink_actor = caf::typed_actor<
  // From Notify: tasks that finished successfully.
  caf::reacts_to<completion_chunk>,
  // From the failure aggregator: failures of one batch.
  caf::reacts_to<failure_chunk>>;

/// The coordinator as the dashboard's stats actor sees it (asked once a second).
using coordinator_stats_actor = caf::typed_actor<
  // The most recent batches, admissions and recorded failures.
  caf::replies_to<stats_atom, get_atom>::with<coordinator_overview>>;

/// The whole coordinator: admits batches, tracks every task to exactly one outcome, runs
/// shutdown.
using coordinator_actor =
  coordinator_client_actor::extend_with<outcome_sink_actor>::extend_with<coordinator_stats_actor>::extend<
    // Once, at start-up (resume_unfinished): resumes every unfinished batch of the store's
    // journal. Answers how many it resumed, or the store's error.
    caf::replies_to<resume_atom>::with<std::uint64_t>>;

/// What travels between stages. Local stage pools, remote stages and the chains a stage host
/// spawns all stand behind it, so each stage knows only "the next stage".
using stage_actor = caf::typed_actor<
  // Tasks to process.
  caf::reacts_to<task_chunk>,
  // Fails held tasks of a batch with `cancelled` (stages before Update; see stage.cpp).
  caf::reacts_to<cancel_atom, std::uint64_t>,
  // Fails held tasks of a batch with `timeout`.
  caf::reacts_to<expire_atom, std::uint64_t>>;

/// One front node's chain of stage pools on a stage host, as that front sees it: a stage, whose
/// counters its dashboard reads.
using stage_segment_actor = stage_actor::extend<
  // The readings of every stage's counters (the front's stats actor asks once a second).
  caf::replies_to<stats_atom, get_atom>::with<segment_reading>>;

/// Receives every failure and reports it, grouped by batch, to the coordinator.
using failure_aggregator_actor = caf::typed_actor<
  // Failures from any stage.
  caf::reacts_to<failure_chunk>,
  // Counts since start by stage and code.
  caf::replies_to<get_atom>::with<failure_counts>>;

/// The store as readers see it (the HTTP front's GET /v1/tasks/{id}).
using task_reader_actor = caf::typed_actor<
  // A task by id; a stored_task with id 0 when there is none, an error (category "store") when
  // the store cannot be read.
  caf::replies_to<get_atom, std::int64_t>::with<stored_task>>;

/// Owns the task store on its own thread (a detached actor: SQLite blocks). Groups whatever is
/// queued into one transaction (group commit).
using store_actor = task_reader_actor::extend<
  // One stage's store work for a chunk, tagged with the sender's ticket. Answers the ticket, the
  // tasks that passed and the failures (stage set to the requested stage).
  caf::replies_to<stage, std::uint64_t, task_chunk>::with<std::uint64_t, task_chunk,
                                                          failure_chunk>,
  // Row counts of every table (or the store's error).
  caf::replies_to<get_atom>::with<store_counts>,
  // The batch was cancelled: from now on its work in Validate, Audit and Update is refused
  // (`cancelled`) inside the transaction; work already inside one finishes.
  caf::reacts_to<cancel_atom, std::uint64_t>,
  // The batch's deadline passed: from now on all its work is refused (`timeout`).
  caf::reacts_to<expire_atom, std::uint64_t>,
  // Journals an admitted batch (durably, before it may start) and hands it back; batches that
  // arrive together share one transaction. An error: it is not journaled and must not start.
  // Where the store numbers batches (task_store::numbers_batches), the batch comes with number 0
  // and goes back with the store's.
  caf::replies_to<journal_atom, journaled_batch>::with<journaled_batch>,
  // Only numbers it (the journal off, on a store that numbers batches).
  caf::replies_to<number_atom, journaled_batch>::with<journaled_batch>,
  // Records a cancel request or a finished batch with its failures (grouped like the journal).
  caf::replies_to<outcome_atom, batch_outcome>::with<done_atom>,
  // Every unfinished batch of the store, to resume at start-up.
  caf::replies_to<resume_atom>::with<resumable_batches>,
  // A finished batch's report as the store keeps it, rendered (batch_report::finished; its
  // failures vector stays empty); an error (not_found) when it has none or it expired.
  caf::replies_to<report_atom, std::uint64_t>::with<batch_report>,
  // A page of a finished batch's failures: batch, after (task id), limit (failure_page, its
  // `failures` filled); not_found like report_atom.
  caf::replies_to<failures_atom, std::uint64_t, std::int64_t, std::uint64_t>::with<failure_page>,
  // The batch an Idempotency-Key was journaled with and its body digest; batch 0 for none.
  caf::replies_to<key_atom, std::string>::with<std::uint64_t, std::string>>;

/// What `taskpipe node` publishes: it hosts stage pools for front nodes.
using stage_host_actor = caf::typed_actor<
  // Spawns, for one front node, a chain of pools for `stages` (consecutive stage names in pipeline
  // order), each forwarding to the next and the last to `next` (none after Notify: completions go
  // to the front's coordinator); failures go to `failures`. Answers one handle for the whole
  // chain: tasks enter its first pool, cancel and expire reach every pool of it. The chain ends
  // with the front's coordinator.
  caf::replies_to<spawn_atom, std::vector<std::string>, stage_actor, outcome_sink_actor,
                  failure_aggregator_actor>::with<stage_segment_actor>,
  // The names of the stages this host serves, in pipeline order.
  caf::replies_to<get_atom>::with<std::vector<std::string>>>;

} // namespace taskpipe
