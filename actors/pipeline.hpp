// Spawning a whole node: store, failure aggregator, the four stage pools and the coordinator.
#pragma once

#include "actors/chain.hpp"
#include "actors/finished_reports.hpp"
#include "actors/interfaces.hpp"
#include "actors/latency.hpp"
#include "actors/metrics.hpp"
#include "actors/stage_counters.hpp"
#include "actors/stage_work.hpp"
#include "store/task_store.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace taskpipe {

struct pipeline_config {
  std::size_t workers = 2;                   ///< actors per stage pool
  latency_model latency;                     ///< simulated extra latency per stage
  store_kind store = store_kind::sqlite;
  std::string db_path = "taskpipe.db";       ///< SQLite file (store_kind::sqlite)
  durability sync = durability::full;        ///< what a commit promises (`--durability`)
  std::int64_t seed_tasks = 0;               ///< create tasks 1..N where missing
  std::uint64_t max_in_flight = 2'000'000;   ///< tasks admitted at once across batches
  std::chrono::milliseconds batch_timeout{60'000};
  std::size_t chunk_size = 1024;             ///< tasks per message between actors
  /// The stages that store through a store actor with a connection of its own (PostgreSQL only:
  /// SQLite has one writer, memory no server), so that their transactions run beside each
  /// other's in separate server processes; the journal, the outcome records and the other
  /// stages' chunks go through the first store actor. Update only by default: Audit and Notify
  /// on writers of their own too measured 4 % slower on two cores (README, PostgreSQL benchmark).
  std::vector<stage> own_writers{stage::update};
  /// Test hook: called by stage workers on every task before its work; may throw.
  fault_injector faults;
  /// Stages that run on stage hosts instead of locally (`--remote`), and how to reach them.
  remote_hosts remote;
  bool tls = false;  ///< links to stage hosts use CAF's openssl module
  peer_event_fn on_peer;  ///< told when remote stages connect or lose their hosts (may be empty)
  /// Journal batches in the store and resume the unfinished ones at start-up (`--journal`).
  bool journal = true;
  /// How long finished batches answer (`--retention`), in the store and in memory.
  std::chrono::milliseconds retention = default_retention;
  /// How often the store purges expired batches (purge_interval_for(retention) for the
  /// commands); 0: never (tests on the test scheduler, whose timers must run out).
  std::chrono::milliseconds purge_interval{0};
  /// Bounds of the coordinator's cache of finished reports (actors/finished_reports.hpp).
  std::size_t cached_reports = default_cached_reports;
  std::size_t cached_report_bytes = default_cached_report_bytes;
};

struct pipeline {
  coordinator_actor coordinator;
  store_actor store;
  store_actor reader;  ///< Validate's and GET /v1/tasks/{id}'s (spawn_reader)
  stage_writers writers;  ///< the stages' own (spawn_store)
  std::shared_ptr<pipeline_metrics> metrics;
  std::shared_ptr<node_stage_counters> counters;  ///< the local stages' (the dashboard's)
};

/// Opens the store of `cfg` (throws std::runtime_error naming the problem), seeds it, and spawns
/// the store actor that owns it. `last_batch`, if given, receives the store's last_batch(),
/// `numbers_batches` its numbers_batches(), `writers` the store actors of the stages with a
/// writer of their own (store_actor_config::stage_writers: PostgreSQL's, one per stage of
/// cfg.own_writers; null for the others, which store through the one returned).
store_actor spawn_store(caf::actor_system& sys, const pipeline_config& cfg,
                        std::uint64_t* last_batch = nullptr, bool* numbers_batches = nullptr,
                        stage_writers* writers = nullptr);

/// The store actor for reads (Validate, GET /v1/tasks/{id}): where the store talks to a server
/// (PostgreSQL), a second store actor with a connection of its own, linked to `writer` (it ends
/// with it), so that reads run beside the writer's transactions instead of queued behind them;
/// else `writer` itself. Throws std::runtime_error like spawn_store.
store_actor spawn_reader(caf::actor_system& sys, const pipeline_config& cfg,
                         const store_actor& writer);

/// The options every local stage pool of the node shares (`reader`: see spawn_reader,
/// `writers`: see spawn_store).
local_stage_options local_stages(const pipeline_config& cfg, store_actor store,
                                 std::shared_ptr<pipeline_metrics> metrics,
                                 store_actor reader = {}, stage_writers writers = {});

/// Opens the store (throws std::runtime_error naming the problem), seeds it, and spawns every
/// actor of the node: the coordinator, and through it the failure aggregator and the stage chain
/// (local pools, remote stages where `cfg.remote` says). The coordinator owns them all: `drain`
/// on it ends every one.
pipeline spawn_pipeline(caf::actor_system& sys, const pipeline_config& cfg);

/// With the journal (cfg.journal): resumes every unfinished batch of the store's journal and
/// returns how many; call it before anyone can ask for them, so that a resumed batch answers as
/// if the node had never stopped. Blocks the calling thread (not an actor's) until that is done;
/// throws std::runtime_error (after draining the node) when the journal cannot be read.
std::uint64_t resume_unfinished(caf::actor_system& sys, const pipeline& node);

} // namespace taskpipe
