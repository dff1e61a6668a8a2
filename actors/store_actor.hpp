// The store actor: owns a task_store and runs what is queued as one transaction (group commit).
#pragma once

#include "actors/interfaces.hpp"
#include "store/task_store.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace taskpipe {

struct store_actor_config {
  /// How often the store purges expired batches (task_store::purge_expired); 0: never (tests
  /// that drive time themselves). The first purge runs at once (batches that expired while the
  /// node was down).
  std::chrono::milliseconds purge_interval{0};
  /// Most rows one purge transaction removes: a larger purge continues behind the work queued
  /// meanwhile, so that it never holds up the pipeline's writes for long.
  std::size_t purge_rows = 10'000;
  /// The store actors with connections of their own that stages write through where there are
  /// any (spawn_store: PostgreSQL's, pipeline_config::own_writers), so that each stage's
  /// transactions run beside the others' in another server process instead of after them: each
  /// is told every cancel and expiry this one is told, and linked to this one (one ends the
  /// others).
  std::vector<store_actor> stage_writers;
};

/// The purge interval for a retention: a quarter of it, from 1 s to 5 min (an expired batch is
/// gone for readers at once; the purge only frees its rows).
std::chrono::milliseconds purge_interval_for(std::chrono::milliseconds retention);

/// Spawns the store actor owning `store`: detached (on its own thread) when the store's calls
/// block, as SQLite's do, so that the scheduler's threads never wait on I/O. `linked_to`, if
/// given: the new actor is linked to it (one ends the other).
store_actor spawn_store_actor(caf::actor_system& sys, std::unique_ptr<task_store> store,
                              store_actor_config cfg = {}, store_actor linked_to = {});

} // namespace taskpipe
