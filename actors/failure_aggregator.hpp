// The failure aggregator: every failure of every stage passes here on its way to the coordinator.
#pragma once

#include "actors/interfaces.hpp"

#include <caf/fwd.hpp>

namespace taskpipe {

/// Spawns the aggregator: it groups failures by batch, counts them by stage and code, and
/// forwards each batch's group to `coordinator`.
failure_aggregator_actor spawn_failure_aggregator(caf::actor_system& sys,
                                                  outcome_sink_actor coordinator);

} // namespace taskpipe
