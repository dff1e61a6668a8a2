// The stage chain: which stages run where, and the one builder that spawns and wires them, used
// by a front node (pipeline.cpp) and by a stage host alike.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/latency.hpp"
#include "actors/metrics.hpp"
#include "actors/remote/endpoint.hpp"
#include "actors/remote/peer_event.hpp"
#include "actors/stage_counters.hpp"
#include "actors/stage_work.hpp"

#include <caf/fwd.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace taskpipe {

/// Where a chain's outcomes go.
struct chain_outputs {
  outcome_sink_actor coordinator;     ///< Notify's completions and lost replicas
  failure_aggregator_actor failures;  ///< every failure
};

/// A store actor per stage (indexed by the stage's number); null where the stage has none.
using stage_writers = std::array<store_actor, stage_count>;

/// What every local stage pool of a node shares.
struct local_stage_options {
  std::size_t workers = 2;        ///< actors per pool
  latency_model latency;          ///< simulated extra latency per stage
  std::size_t chunk_size = 1024;  ///< tasks per message between actors
  store_actor store;
  /// Validate's store (it only reads): a store actor of its own where there is one (see
  /// spawn_reader), so that its reads do not wait behind the writers' transactions; null: store.
  store_actor reader;
  /// Per stage (indexed by its number): the writer of its own it stores through where it has
  /// one (see spawn_store); null: store.
  stage_writers writers;
  std::shared_ptr<pipeline_metrics> metrics;
  fault_injector faults;          ///< test hook; may be empty
  std::shared_ptr<node_stage_counters> counters;  ///< the dashboard's, by stage; may be null
};

/// Stages that run on stage hosts instead of locally (`--remote`), and how to reach them.
using remote_hosts = std::vector<std::pair<stage, std::vector<endpoint>>>;

/// Where the stages of a chain run.
struct chain_placement {
  remote_hosts remote;  ///< a stage not listed runs locally
  bool tls = false;     ///< links to stage hosts use CAF's openssl module
  peer_event_fn on_peer;  ///< told when remote stages connect or lose hosts (may be empty)
};

/// Spawns `stages` (consecutive, in pipeline order) back to front, each wired to the next and the
/// last to `next` (none after Notify). A stage placed remotely, together with the stages after it
/// on the same hosts, becomes one remote stage, so tasks cross the network once per run.
/// Returns the entry of every segment in pipeline order: tasks go to the first, cancel and
/// expire to all.
std::vector<stage_actor> spawn_chain(caf::actor_system& sys, const std::vector<stage>& stages,
                                     const local_stage_options& local,
                                     const chain_placement& placement, stage_actor next,
                                     const chain_outputs& outputs);

} // namespace taskpipe
