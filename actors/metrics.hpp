// Node-wide counters for /metrics and the run summary. Updated once per chunk with relaxed
// atomics (no locks on the hot path); read by whoever renders them.
#pragma once

#include "messages/outcome.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace taskpipe {

struct pipeline_metrics {
  /// Upper bounds (seconds) of the stage latency histogram's buckets; +Inf is implied.
  static constexpr std::array<double, 12> latency_bounds{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                         0.25,  0.5,   1.0,  2.5,   5.0,  10.0};

  struct stage_counters {
    std::atomic<std::uint64_t> succeeded{0};  ///< tasks that passed this stage
    std::atomic<std::uint64_t> failed{0};     ///< tasks that failed in this stage
    /// Cumulative is computed when rendering: bucket[i] counts observations in
    /// (bounds[i-1], bounds[i]]; the last one counts those above every bound.
    std::array<std::atomic<std::uint64_t>, latency_bounds.size() + 1> latency_buckets{};
    std::atomic<std::uint64_t> latency_count{0};
    std::atomic<std::uint64_t> latency_sum_us{0};
  };

  std::array<stage_counters, stage_count> stages;
  std::atomic<std::uint64_t> pipeline_failed{0};  ///< tasks failed between stages
  std::atomic<std::uint64_t> tasks_in_flight{0};
  std::atomic<std::uint64_t> batches_done{0};
  std::atomic<std::uint64_t> batches_cancelled{0};
  std::atomic<std::uint64_t> workers_replaced{0};  ///< stage workers that failed and were replaced

  /// Records that `count` tasks each spent `seconds` in `where` (count-weighted observation).
  void observe_latency(stage where, double seconds, std::uint64_t count = 1) {
    auto& s = stages[static_cast<std::size_t>(where)];
    std::size_t bucket = 0;
    while (bucket < latency_bounds.size() && seconds > latency_bounds[bucket])
      ++bucket;
    s.latency_buckets[bucket].fetch_add(count, std::memory_order_relaxed);
    s.latency_count.fetch_add(count, std::memory_order_relaxed);
    s.latency_sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6) * count,
                               std::memory_order_relaxed);
  }

  void count(stage where, bool succeeded, std::uint64_t n) {
    if (n == 0)
      return;
    if (where == stage::pipeline) {
      if (!succeeded)
        pipeline_failed.fetch_add(n, std::memory_order_relaxed);
      return;
    }
    auto& s = stages[static_cast<std::size_t>(where)];
    (succeeded ? s.succeeded : s.failed).fetch_add(n, std::memory_order_relaxed);
  }
};

} // namespace taskpipe
