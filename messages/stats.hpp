// What the dashboard's stats actor is told once a second: the coordinator's batch bookkeeping (the
// most recent batches, admissions, the failures it recorded), and the readings of a stage pool's
// counters, local or from a stage host. Never sent per task.
#pragma once

#include "messages/outcome.hpp"

#include <caf/meta/type_name.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace taskpipe {

/// One recent batch as the dashboard shows it.
struct batch_summary {
  std::uint64_t batch = 0;
  batch_state state = batch_state::running;
  std::uint64_t total = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  double age_ms = 0;      ///< since it was admitted
  double elapsed_ms = 0;  ///< admitted to finished (to now while it runs)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_summary& x) {
  return f(caf::meta::type_name("batch_summary"), x.batch, x.state, x.total, x.succeeded,
           x.failed, x.age_ms, x.elapsed_ms);
}

struct coordinator_overview {
  std::vector<batch_summary> recent;  ///< the most recently admitted batches, newest first
  std::uint64_t accepted = 0;         ///< tasks admitted since start
  std::uint64_t in_flight = 0;
  std::uint64_t running = 0;          ///< batches
  std::uint64_t batches_done = 0;
  std::uint64_t batches_cancelled = 0;
  std::vector<std::uint64_t> failures_by_code;  ///< recorded failures since start, by code
  std::vector<task_failure> last_failures;      ///< the most recent ones, newest first
  bool draining = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, coordinator_overview& x) {
  return f(caf::meta::type_name("coordinator_overview"), x.recent, x.accepted, x.in_flight,
           x.running, x.batches_done, x.batches_cancelled, x.failures_by_code, x.last_failures,
           x.draining);
}

/// Stage latency histogram (arrival at the router to the worker's done): bucket b counts
/// latencies below 2^b microseconds (the first one below 1 us, the last one everything else).
inline constexpr std::size_t latency_bucket_count = 28;  // up to 2^27 us, about 134 s

/// What a reader sees of one worker of a stage pool.
struct worker_reading {
  std::uint64_t held = 0;
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t busy_ns = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_reading& x) {
  return f(caf::meta::type_name("worker_reading"), x.held, x.done, x.failed, x.busy_ns);
}

/// What a reader sees of a stage pool's counters at one moment (actors/stage_counters.hpp).
struct stage_reading {
  std::uint64_t waiting = 0;        ///< tasks waiting out their simulated latency
  std::uint64_t ready = 0;          ///< tasks due, not yet handed to a worker
  std::uint64_t queued_chunks = 0;  ///< chunks handed to workers and not finished
  std::uint64_t done = 0;           ///< all workers so far, gone ones included
  std::uint64_t failed = 0;         ///< the workers' failures and the router's own (closed batches)
  std::uint64_t busy_ns = 0;        ///< all workers so far
  std::array<std::uint64_t, latency_bucket_count> latency{};
  std::vector<worker_reading> workers;  ///< the live ones
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stage_reading& x) {
  return f(caf::meta::type_name("stage_reading"), x.waiting, x.ready, x.queued_chunks, x.done,
           x.failed, x.busy_ns, x.latency, x.workers);
}

/// What a stage host's segment (one front's chain of pools there) answers the front's stats
/// actor, once a second: the readings of its stages, in pipeline order (the front knows which
/// stages it asked the host to run).
struct segment_reading {
  std::vector<stage_reading> readings;  ///< one per stage of the segment
  std::uint64_t sampled_ns = 0;  ///< the host's steady clock when read: rates from its differences
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, segment_reading& x) {
  return f(caf::meta::type_name("segment_reading"), x.readings, x.sampled_ns);
}

} // namespace taskpipe
