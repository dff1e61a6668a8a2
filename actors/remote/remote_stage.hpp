// The front node's view of stages that run on stage hosts: one local actor per run of
// consecutive remote stages, standing where a local stage pool would stand.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/remote/endpoint.hpp"
#include "actors/remote/peer_event.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace taskpipe {

struct remote_stage_config {
  std::vector<stage> stages;         ///< consecutive stages, in pipeline order
  std::vector<endpoint> replicas;    ///< stage hosts that serve all of them
  stage_actor next;                  ///< where the last stage forwards; none after Notify
  outcome_sink_actor coordinator;    ///< Notify's completions go here
  failure_aggregator_actor failures;
  bool tls = false;                  ///< connect through CAF's openssl module
  std::chrono::milliseconds reconnect_interval{1000};
  /// How long tasks wait for a first connection before failing with node_lost, and how long one
  /// connection attempt may take.
  std::chrono::milliseconds connect_timeout{5000};
  peer_event_fn on_peer;  ///< told about connections, start-up failures and losses (may be empty)
};

/// Spawns the remote stage: it connects to every replica (and reconnects lost ones), asks each to
/// spawn the stages wired to `next`, spreads chunks across the connected replicas and tells the
/// replays on another replica what a lost one held (see orphaned() in remote_stage.cpp). With
/// no replica left, tasks fail with node_lost.
stage_actor spawn_remote_stage(caf::actor_system& sys, remote_stage_config cfg);

} // namespace taskpipe
