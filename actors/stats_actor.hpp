// The dashboard's stats actor: once a second it reads the local stage pools' counters, asks each
// connected stage host for its pools' counters (remote_stats.hpp), the coordinator for its batch
// bookkeeping and the store whether it answers, and hands one snapshot to `publish`. The only
// thing it costs the pipeline is those few requests a second: never an event per task.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/remote/host_board.hpp"
#include "actors/stage_counters.hpp"
#include "actors/stage_tracker.hpp"
#include "actors/stats_snapshot.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace taskpipe {

struct stats_config {
  std::string node;        ///< what the header calls this node
  std::string version;
  std::string store_kind;  ///< sqlite, memory, ...
  coordinator_stats_actor coordinator;
  task_reader_actor store;  ///< probed once a second: does it answer, and without an error
  std::shared_ptr<const pipeline_metrics> metrics;
  std::shared_ptr<const node_stage_counters> counters;  ///< the local stages'
  std::shared_ptr<const host_board> hosts;  ///< may be null; its segments are asked for counters
  /// Stages on stage hosts and their HOST:PORTs (their counters come from there, see `hosts`).
  std::vector<std::pair<stage, std::vector<std::string>>> remote;
  std::chrono::milliseconds interval{1000};
  /// How long a stage host gets to answer; shorter than `interval`, so that one that did not is
  /// asked again at the next tick. The snapshot never waits for it.
  std::chrono::milliseconds remote_timeout{800};
  std::chrono::seconds latency_window{10};   ///< p50/p99 cover this much
  std::chrono::seconds failure_window{300};  ///< failures by code cover this much
  std::size_t history = 120;                 ///< rate points kept (the chart)
  /// Called with every snapshot, on the actor's thread: quick, thread-safe.
  std::function<void(const stats_snapshot&)> publish;
};

using stats_actor = caf::typed_actor<caf::reacts_to<caf::tick_atom>>;

/// Spawns the stats actor; its first snapshot follows at once. Exits when told (send_exit).
stats_actor spawn_stats_actor(caf::actor_system& sys, stats_config cfg);

} // namespace taskpipe
