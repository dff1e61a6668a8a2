// The coordinator: admits batches, tracks every task to exactly one outcome, runs shutdown.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/pipeline.hpp"

#include <caf/fwd.hpp>

#include <memory>

namespace taskpipe {

/// Finished batches stay queryable at least this long.
inline constexpr auto finished_batch_retention = std::chrono::minutes{10};

/// After a batch's deadline, how long stages get to report the tasks they hold before the
/// coordinator fails whatever is still unaccounted for (stage `pipeline`).
inline constexpr auto deadline_grace = std::chrono::seconds{1};

/// Spawns the coordinator, which spawns the failure aggregator and the four stage pools and takes
/// ownership of `store`: draining the coordinator ends them all.
coordinator_actor spawn_coordinator(caf::actor_system& sys, pipeline_config cfg,
                                    store_actor store, std::shared_ptr<pipeline_metrics> metrics);

} // namespace taskpipe
