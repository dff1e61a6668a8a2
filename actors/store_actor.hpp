// The store actor: owns a task_store on its own thread and groups writes into transactions.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/store/task_store.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace taskpipe {

/// Spawns the store actor owning `store`: detached (on its own thread) when the store's calls
/// block, as SQLite's do, so the scheduler's threads never wait on I/O.
store_actor spawn_store_actor(caf::actor_system& sys, std::unique_ptr<task_store> store,
                              bool blocking);

} // namespace taskpipe
