#include "actors/stage_tracker.hpp"

#include "actors/stage_counters.hpp"

#include <algorithm>

namespace taskpipe {

std::optional<double> latency_quantile_ms(const latency_histogram& h, double q) {
  std::uint64_t total = 0;
  for (auto n : h)
    total += n;
  if (total == 0)
    return std::nullopt;
  auto target = q * static_cast<double>(total);
  double below = 0;
  for (std::size_t b = 0; b < latency_bucket_count; ++b) {
    auto n = static_cast<double>(h[b]);
    if (n > 0 && below + n >= target) {
      double lower = b == 0 ? 0.0 : static_cast<double>(latency_bucket_bound(b - 1));
      double upper = static_cast<double>(latency_bucket_bound(b));
      return (lower + (upper - lower) * ((target - below) / n)) / 1000.0;
    }
    below += n;
  }
  return static_cast<double>(latency_bucket_bound(latency_bucket_count - 1)) / 1000.0;
}

stage_figures stage_tracker::update(const stage_reading& r, clock::time_point now, double dt,
                                    clock::duration window) {
  stage_figures v;
  v.waiting = r.waiting;
  v.held = r.waiting + r.ready;
  v.queued_chunks = r.queued_chunks;
  v.done = r.done;
  v.failed = r.failed;
  if (dt > 0) {
    v.done_per_s = static_cast<double>(r.done - std::min(done_, r.done)) / dt;
    v.failed_per_s = static_cast<double>(r.failed - std::min(failed_, r.failed)) / dt;
    if (!r.workers.empty()) {
      auto busy = static_cast<double>(r.busy_ns - std::min(busy_ns_, r.busy_ns));
      v.busy = std::clamp(busy / (dt * 1e9 * static_cast<double>(r.workers.size())), 0.0, 1.0);
    }
  }
  bool same_workers = worker_busy_ns_.size() == r.workers.size();
  std::vector<std::uint64_t> worker_busy;
  for (std::size_t w = 0; w < r.workers.size(); ++w) {
    const auto& x = r.workers[w];
    v.held += x.held;
    worker_view wv{x.held, x.done, x.failed, 0};
    if (dt > 0 && same_workers)
      wv.busy = std::clamp(static_cast<double>(x.busy_ns - std::min(worker_busy_ns_[w], x.busy_ns))
                             / (dt * 1e9),
                           0.0, 1.0);
    v.workers.push_back(wv);
    worker_busy.push_back(x.busy_ns);
  }
  done_ = r.done;
  failed_ = r.failed;
  busy_ns_ = r.busy_ns;
  worker_busy_ns_ = std::move(worker_busy);
  // The window keeps the newest reading older than `window` as its base.
  window_.emplace_back(now, r.latency);
  while (window_.size() > 1 && now - window_[1].first >= window)
    window_.pop_front();
  if (window_.size() == 1) {
    window_delta_ = window_.back().second;  // the first reading: everything since start
  } else {
    for (std::size_t b = 0; b < latency_bucket_count; ++b)
      window_delta_[b] = window_.back().second[b] - std::min(window_.front().second[b],
                                                             window_.back().second[b]);
  }
  v.p50_ms = latency_quantile_ms(window_delta_, 0.50);
  v.p99_ms = latency_quantile_ms(window_delta_, 0.99);
  return v;
}

} // namespace taskpipe
