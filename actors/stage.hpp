// A stage of the pipeline: a router actor in front of a pool of K worker actors.
//
// The router holds tasks while they wait out their simulated latency (one timer for all of them,
// see delay_queue), then hands them to workers in chunks with a bounded number of chunks
// outstanding per worker (credit). Workers run the stage's checks, hand the chunk to the store
// actor, and forward what passed to the next stage (Notify: to the coordinator) and what failed
// to the failure aggregator. A worker that throws on a task fails that task with `internal`,
// finishes what it holds and is replaced; if a worker dies anyway, the router fails the tasks it
// held with `internal` and replaces it, so no task is ever lost.
#pragma once

#include "actors/closed_batches.hpp"
#include "actors/interfaces.hpp"
#include "actors/latency.hpp"
#include "actors/metrics.hpp"
#include "actors/stage_counters.hpp"
#include "actors/stage_work.hpp"

#include <caf/fwd.hpp>

#include <cstddef>
#include <memory>

namespace taskpipe {

struct stage_config {
  stage which = stage::validate;
  std::size_t workers = 2;
  latency_model latency;
  std::size_t chunk_size = 1024;
  std::size_t credit = 2;               ///< chunks outstanding per worker
  stage_actor next;                     ///< the following stage; none for Notify
  outcome_sink_actor coordinator;       ///< receives Notify's completions
  failure_aggregator_actor failures;
  store_actor store;
  std::shared_ptr<pipeline_metrics> metrics;
  fault_injector faults;                ///< test hook; may be empty
  std::shared_ptr<stage_counters> counters;  ///< the dashboard's counters; may be null
};

/// Spawns the stage's router, which spawns its workers. Exiting the router ends the workers.
stage_actor spawn_stage(caf::actor_system& sys, stage_config cfg);

} // namespace taskpipe
