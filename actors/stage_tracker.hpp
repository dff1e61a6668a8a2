// Turns successive readings of one stage pool's counters into what the dashboard shows: rates and
// busy shares from the differences between two readings, p50/p99 over a window of them. The same
// for a local pool (read by the stats actor) and for a pool on a stage host (read there, sent in
// the host's answer).
#pragma once

#include "actors/stats_snapshot.hpp"
#include "messages/stats.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace taskpipe {

using latency_histogram = std::array<std::uint64_t, latency_bucket_count>;

class stage_tracker {
public:
  using clock = std::chrono::steady_clock;

  /// `dt`: seconds since the previous reading (0 for the first: no rates yet). `now` places the
  /// reading in the latency window, which covers `window`.
  stage_figures update(const stage_reading& r, clock::time_point now, double dt,
                       clock::duration window);

  /// The latency histogram of the window, as of the last update (to add up several pools).
  const latency_histogram& window_latency() const {
    return window_delta_;
  }

private:
  std::uint64_t done_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t busy_ns_ = 0;
  std::vector<std::uint64_t> worker_busy_ns_;
  std::deque<std::pair<clock::time_point, latency_histogram>> window_;
  latency_histogram window_delta_{};
};

/// The q-quantile (0 < q < 1) in milliseconds of a latency histogram (stage_counters' buckets),
/// interpolated inside its bucket; none when it is empty.
std::optional<double> latency_quantile_ms(const latency_histogram& h, double q);

} // namespace taskpipe
