// The stage host of `taskpipe node`: spawns stage pools on request of front nodes, one chain per
// front with counters of its own, which that front's dashboard reads (stats_atom on the chain).
#pragma once

#include "actors/chain.hpp"
#include "actors/interfaces.hpp"
#include "actors/remote/peer_event.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <vector>

namespace taskpipe {

struct stage_host_config {
  std::vector<stage> stages;  ///< what this host serves, in pipeline order
  local_stage_options local;  ///< how its pools run
  peer_event_fn on_peer;  ///< told when a front's chain is spawned and when it ends (may be empty)
};

stage_host_actor spawn_stage_host(caf::actor_system& sys, stage_host_config cfg);

/// Parses "validate,audit,..." into stages in pipeline order; throws std::invalid_argument naming
/// the offending word (unknown, repeated, or out of pipeline order).
std::vector<stage> parse_stage_list(const std::string& text);

} // namespace taskpipe
