// Stands between a remote stage and one replica (one stage host's chain for it): tasks go to the
// replica through the relay and everything the replica sends back (tasks for the next stage,
// failures, completions) comes back through it. So the relay knows exactly which tasks the
// replica holds, and when the replica is lost only those are replayed or failed: never a task
// that had left it, never one held elsewhere. A replay that then fails for a reason of timing
// (its batch closed meanwhile, a store error) fails node_lost instead where the lost replica may
// have applied it: the replay cannot tell whether the original was applied.
#pragma once

#include "actors/interfaces.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

namespace taskpipe {

/// The remote stage as its relays see it.
using orphan_sink_actor = caf::typed_actor<
  // Tasks a lost replica held: the remote stage replays them on another replica or fails them.
  caf::reacts_to<node_lost_atom, task_chunk>>;

using replica_relay_actor = caf::typed_actor<
  // From the replica: tasks for the next stage (forwarded there; no longer held).
  caf::reacts_to<task_chunk>,
  // Forwarded to the next stage (never sent by a replica; completes the stage interface).
  caf::reacts_to<cancel_atom, std::uint64_t>,
  caf::reacts_to<expire_atom, std::uint64_t>,
  // From the replica: finished tasks (forwarded to the coordinator; no longer held).
  caf::reacts_to<completion_chunk>,
  // From the replica: failed tasks (forwarded to the failure aggregator; no longer held).
  caf::reacts_to<failure_chunk>,
  // Delegated to the failure aggregator.
  caf::replies_to<get_atom>::with<failure_counts>,
  // From the remote stage: the replica's chain, once it is spawned.
  caf::reacts_to<forward_atom, stage_actor>,
  // From the remote stage: tasks for the replica (held until they come back); true if they are
  // replays of tasks a lost replica held.
  caf::reacts_to<forward_atom, task_chunk, bool>,
  // From the remote stage: the replica is lost. Everything it holds goes back to the remote
  // stage (after every chunk sent before this message), then the relay exits.
  caf::reacts_to<node_lost_atom>>;

/// Where the replica's output goes once it passed the relay.
struct relay_outputs {
  stage_actor next; ///< none after Notify
  outcome_sink_actor coordinator;
  failure_aggregator_actor failures;
  orphan_sink_actor remote_stage;
  /// The segment has Update or a later stage: a lost replica may have applied its tasks.
  bool may_apply = false;
};

/// Spawns a relay linked to `parent` (the remote stage).
replica_relay_actor spawn_replica_relay(caf::local_actor* parent, relay_outputs outputs);

} // namespace taskpipe
