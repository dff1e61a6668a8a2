// Every typed actor interface of taskpipe, one comment per handler.
#pragma once

#include "messages/atoms.hpp"
#include "messages/outcome.hpp"
#include "messages/task.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace taskpipe {

/// The coordinator: admits batches, tracks every task to exactly one outcome, runs shutdown.
/// Refusals arrive as caf::error of category taskpipe::error_category (see messages/registry.hpp,
/// as_refusal): shutting_down, overloaded, batch_too_large, unknown_batch.
using coordinator_actor = caf::typed_actor<
  // Admits a batch and answers with its final report once every task has an outcome.
  caf::replies_to<submit_atom, batch_request>::with<batch_report>,
  // Admits a batch and answers at once with its running status (batch_id set).
  caf::replies_to<start_atom, batch_request>::with<batch_report>,
  // The status of a batch by its batch_id text (failures included once pending is 0).
  caf::replies_to<status_atom, std::string>::with<batch_report>,
  // Cancels a batch: tasks not yet handed to Update fail with `cancelled`. Answers its status.
  caf::replies_to<cancel_atom, std::string>::with<batch_report>,
  // Stops admitting, finishes every admitted batch, then exits every actor it started. Answers
  // once all of that is done.
  caf::replies_to<drain_atom>::with<done_atom>,
  // Node-wide statistics: tasks in flight, and batches finished by state (done, cancelled).
  caf::replies_to<stats_atom>::with<std::uint64_t, std::uint64_t, std::uint64_t>,
  // From Notify: tasks that finished successfully.
  caf::reacts_to<completion_chunk>,
  // From the failure aggregator: failures of one batch.
  caf::reacts_to<failure_chunk>,
  // Internal: a batch's deadline passed.
  caf::reacts_to<expire_atom, std::uint64_t>,
  // Internal: a batch's deadline plus grace passed; tasks still without outcome fail.
  caf::reacts_to<expire_atom, std::uint64_t, bool>,
  // From a remote stage: a replica went away; unfinished tasks are replayed from Validate.
  caf::reacts_to<node_lost_atom>>;

/// One stage of the pipeline (the pool's router; its workers are internal to stage.cpp).
using stage_actor = caf::typed_actor<
  // Tasks to process.
  caf::reacts_to<task_chunk>,
  // Drops held tasks of a batch with `cancelled` (Validate and Audit only; see stage.cpp).
  caf::reacts_to<cancel_atom, std::uint64_t>,
  // Drops held tasks of a batch with `timeout`.
  caf::reacts_to<expire_atom, std::uint64_t>,
  // Internal: a worker finished the chunk with this ticket (its credit returns).
  caf::reacts_to<done_atom, std::uint64_t>,
  // Internal: a worker hit a bug; replace it (it finishes what it holds, then quits).
  caf::reacts_to<retire_atom>,
  // Internal: the latency timer.
  caf::reacts_to<caf::tick_atom>,
  // Internal (remote stages): retry connecting replica number N.
  caf::reacts_to<reconnect_atom, std::uint64_t>,
  // Internal (remote stages): the wait for a first replica is over.
  caf::reacts_to<reconnect_atom>>;

/// Receives every failure and reports it, grouped by batch, to the coordinator.
using failure_aggregator_actor = caf::typed_actor<
  // Failures from any stage.
  caf::reacts_to<failure_chunk>,
  // Counts since start by stage and code.
  caf::replies_to<get_atom>::with<failure_counts>>;

} // namespace taskpipe

namespace taskpipe {

/// Owns the task store on its own thread (a detached actor: SQLite blocks). Groups whatever is
/// queued into one transaction (group commit).
using store_actor = caf::typed_actor<
  // One stage's store work for a chunk, tagged with the sender's ticket. Answers the ticket, the
  // tasks that passed and the failures (stage set to the requested stage).
  caf::replies_to<stage, std::uint64_t, task_chunk>::with<std::uint64_t, task_chunk,
                                                          failure_chunk>,
  // A task by id; a stored_task with id 0 when there is none, an error (category "store") when
  // the store cannot be read.
  caf::replies_to<get_atom, std::int64_t>::with<stored_task>,
  // Row counts of every table (or the store's error).
  caf::replies_to<get_atom>::with<store_counts>,
  // Internal: runs everything queued so far as one transaction (group commit).
  caf::reacts_to<caf::flush_atom>>;

} // namespace taskpipe

namespace taskpipe {

/// What `taskpipe node` publishes: it hosts stage pools for front nodes.
using stage_host_actor = caf::typed_actor<
  // Spawns, for one front node, a chain of pools for `stages` (consecutive stage names in pipeline
  // order), each forwarding to the next and the last to `next` (none after Notify: completions go
  // to `coordinator`); failures go to `failures`. Answers one handle for the whole chain: tasks
  // enter its first pool, cancel and expire reach every pool of it. The chain ends with the
  // coordinator.
  caf::replies_to<spawn_atom, std::vector<std::string>, stage_actor, coordinator_actor,
                  failure_aggregator_actor>::with<stage_actor>,
  // The names of the stages this host serves, in pipeline order.
  caf::replies_to<get_atom>::with<std::vector<std::string>>>;

} // namespace taskpipe

namespace caf {
class actor_system_config;
} // namespace caf

namespace taskpipe {

/// Registers every message type (register_message_types) and every actor handle type that
/// travels in messages, so both can cross the network. Call on every node's config before the
/// actor system is constructed.
void register_types(caf::actor_system_config& cfg);

} // namespace taskpipe
