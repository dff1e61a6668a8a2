// The stage host of `taskpipe node`: spawns stage pools on request of front nodes.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/latency.hpp"
#include "actors/metrics.hpp"
#include "actors/remote/peer_event.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <vector>

namespace taskpipe {

struct stage_host_config {
  std::vector<stage> stages;  ///< what this host serves, in pipeline order
  std::size_t workers = 2;
  latency_model latency;
  std::size_t chunk_size = 1024;
  store_actor store;
  std::shared_ptr<pipeline_metrics> metrics;
  peer_event_fn on_peer;  ///< told when a front's chain is spawned and when it ends (may be empty)
};

stage_host_actor spawn_stage_host(caf::actor_system& sys, stage_host_config cfg);

/// Parses "validate,audit,..." into stages in pipeline order; throws std::invalid_argument naming
/// the offending word (unknown, repeated, or out of pipeline order).
std::vector<stage> parse_stage_list(const std::string& text);

} // namespace taskpipe
