// The coordinator: admits batches, tracks every task to exactly one outcome, runs shutdown.
#pragma once

#include "actors/chain.hpp"
#include "actors/finished_reports.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "store/task_store.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace taskpipe {

/// With stage hosts: after a batch's deadline, how long stages get to report the tasks they hold
/// before the coordinator fails whatever is still unaccounted for (stage `pipeline`, node_lost).
inline constexpr auto deadline_grace = std::chrono::seconds{1};

struct coordinator_config {
  std::uint64_t max_in_flight = 2'000'000;  ///< tasks admitted at once across batches
  std::chrono::milliseconds batch_timeout{60'000};
  std::size_t chunk_size = 1024;            ///< tasks per message to the first stage
  /// Batches are numbered in admission order from here on (the store's last_batch()): Update's
  /// per-key order compares the numbers, so they must grow across restarts.
  std::uint64_t last_batch = 0;
  /// Some stages run on stage hosts: a task still without an outcome a grace period after its
  /// batch's deadline is on a host that does not answer, and fails node_lost.
  bool stage_hosts = false;
  /// Journal every batch in the store before it starts, record its outcome before it is
  /// answered, and read finished reports back from the store (store/journal.hpp).
  bool journal = false;
  /// How long a finished batch answers (`--retention`): then it is unknown (404).
  std::chrono::milliseconds retention = default_retention;
  /// The cache of finished reports the node keeps in memory (actors/finished_reports.hpp); the
  /// others are read from the store. Without the journal every report stays for the retention.
  std::size_t cached_reports = default_cached_reports;
  std::size_t cached_report_bytes = default_cached_report_bytes;
  /// The store numbers batches (task_store::numbers_batches: several fronts share it): each
  /// admitted batch gets its number from the store before it starts (with its journal write, or
  /// on its own with the journal off), and last_batch is not used.
  bool store_numbers = false;
};

/// Builds the stage chain once the coordinator and its failure aggregator exist (the stages
/// report to them). Returns the entry of every segment in pipeline order.
using chain_factory =
  std::function<std::vector<stage_actor>(caf::actor_system&, const chain_outputs&)>;

/// Spawns the coordinator, which spawns the failure aggregator, builds the chain with
/// `build_chain` and takes ownership of `store`: draining the coordinator ends them all.
coordinator_actor spawn_coordinator(caf::actor_system& sys, coordinator_config cfg,
                                    chain_factory build_chain, store_actor store,
                                    std::shared_ptr<pipeline_metrics> metrics);

} // namespace taskpipe
