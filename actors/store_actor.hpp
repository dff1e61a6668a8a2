// The store actor: owns a task_store and runs what is queued as one transaction (group commit).
#pragma once

#include "actors/interfaces.hpp"
#include "store/task_store.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace taskpipe {

/// Spawns the store actor owning `store`: detached (on its own thread) when the store's calls
/// block, as SQLite's do, so that the scheduler's threads never wait on I/O. `linked_to`, if
/// given: the new actor is linked to it (one ends the other).
store_actor spawn_store_actor(caf::actor_system& sys, std::unique_ptr<task_store> store,
                              store_actor linked_to = {});

} // namespace taskpipe
