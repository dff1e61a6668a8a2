// /metrics in the Prometheus text exposition format (version 0.0.4).
#pragma once

#include "actors/metrics.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace taskpipe::http {

/// Counters of the HTTP front itself, updated with relaxed atomics by the Asio threads.
struct http_counters {
  /// Status codes counted in taskpipe_http_responses_total; others count as "other".
  static constexpr std::array<unsigned, 11> codes{200, 202, 400, 401, 404, 405,
                                                  413, 415, 431, 500, 503};
  std::array<std::atomic<std::uint64_t>, codes.size() + 1> responses{};
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_refused{0};  ///< over --max-connections
  std::atomic<std::uint64_t> connections_refusing{0};  ///< refused, still being answered
  std::atomic<std::uint64_t> requests_in_progress{0};
  std::atomic<std::uint64_t> body_bytes_in_flight{0};  ///< held of --max-body-bytes-in-flight

  void count_response(unsigned status) {
    std::size_t i = 0;
    while (i < codes.size() && codes[i] != status)
      ++i;
    responses[i].fetch_add(1, std::memory_order_relaxed);
  }
};

/// Renders the pipeline's metrics (when `pipeline` is set) and the HTTP front's (when `front` is):
/// taskpipe_tasks_total{stage,outcome}, taskpipe_stage_latency_seconds (histogram per stage),
/// taskpipe_tasks_in_flight, taskpipe_batches_total{state}, taskpipe_http_responses_total{code},
/// taskpipe_http_connections_open, taskpipe_http_connections_refused_total,
/// taskpipe_http_requests_in_progress, taskpipe_http_body_bytes_in_flight.
std::string render_metrics(const pipeline_metrics* pipeline, const http_counters* front);

} // namespace taskpipe::http
