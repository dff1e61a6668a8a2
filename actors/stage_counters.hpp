// The dashboard's per-worker counters of a local stage pool. Each counter has exactly one writer
// (the router, or one worker) that updates it with a relaxed load and store (no read-modify-write,
// no lock, no message), at most a few times per chunk; the stats actor reads them once a second
// (on a stage host, the front's chain there reads them when the front's stats actor asks).
// The only lock guards the list of workers, taken when a worker is spawned or gone and by the
// reader, never on the hot path.
#pragma once

#include "messages/outcome.hpp"
#include "messages/stats.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace taskpipe {

/// A counter with one writer: `add` is a plain load and store (no locked instruction).
class owned_counter {
public:
  void add(std::uint64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) {
    value_.store(n, std::memory_order_relaxed);
  }
  std::uint64_t get() const {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<std::uint64_t> value_{0};
};

/// Nanoseconds on the steady clock, for busy time.
inline std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch())
      .count());
}

/// One worker's counters (written by that worker only).
struct alignas(64) worker_counters {
  owned_counter held;      ///< tasks it holds now (its own checks, or waiting for the store)
  owned_counter done;      ///< tasks that passed the stage through it
  owned_counter failed;    ///< tasks that failed in it
  owned_counter busy_ns;   ///< time it held at least one chunk, closed intervals
  owned_counter busy_since_ns;  ///< start of the open busy interval; 0 while idle
  std::uint64_t chunks = 0;     ///< chunks held now (the worker's own bookkeeping)

  /// A chunk of `n` tasks arrived.
  void take(std::uint64_t n) {
    held.add(n);
    if (chunks++ == 0)
      busy_since_ns.set(steady_ns());
  }
  /// `n` tasks of a held chunk left (passed or failed); `chunk_done` when the chunk is finished.
  void release(std::uint64_t n, bool chunk_done) {
    held.sub(n);
    if (chunk_done && --chunks == 0) {
      auto since = busy_since_ns.get();
      busy_since_ns.set(0);
      busy_ns.add(steady_ns() - since);
    }
  }
  /// Busy time up to `now`, the open interval included.
  std::uint64_t busy_until(std::uint64_t now) const {
    auto since = busy_since_ns.get();
    return busy_ns.get() + (since != 0 && now > since ? now - since : 0);
  }
};

/// The histogram's bucket of a latency (latency_bucket_count in messages/stats.hpp).
inline std::size_t latency_bucket(std::uint64_t micros) {
  auto b = static_cast<std::size_t>(std::bit_width(micros));
  return b < latency_bucket_count ? b : latency_bucket_count - 1;
}

/// Upper bound (microseconds) of a bucket.
inline std::uint64_t latency_bucket_bound(std::size_t bucket) {
  return std::uint64_t{1} << bucket;
}

/// The counters of one local stage pool: the router's own, and one block per worker.
class stage_counters {
public:
  // -- the router (its only writer) ------------------------------------------------------------
  owned_counter waiting;
  owned_counter ready;
  owned_counter queued_chunks;
  owned_counter refused;  ///< tasks the router failed itself (closed batches, dead workers)
  std::array<owned_counter, latency_bucket_count> latency;

  /// Records `n` tasks with this latency.
  void observe(std::uint64_t micros, std::uint64_t n) {
    latency[latency_bucket(micros)].add(n);
  }

  /// A new worker's block (kept alive by the worker too).
  std::shared_ptr<worker_counters> add_worker() {
    auto w = std::make_shared<worker_counters>();
    std::lock_guard<std::mutex> guard{mutex_};
    workers_.push_back(w);
    return w;
  }

  /// A worker is gone: its totals stay in the stage's.
  void remove_worker(const std::shared_ptr<worker_counters>& w) {
    if (!w)
      return;
    std::lock_guard<std::mutex> guard{mutex_};
    std::erase(workers_, w);
    gone_.done += w->done.get();
    gone_.failed += w->failed.get();
    gone_.busy_ns += w->busy_until(steady_ns());
  }

  /// A consistent-enough reading (each counter is read once; they are not one snapshot).
  stage_reading read() const {
    stage_reading r;
    r.waiting = waiting.get();
    r.ready = ready.get();
    r.queued_chunks = queued_chunks.get();
    for (std::size_t b = 0; b < latency_bucket_count; ++b)
      r.latency[b] = latency[b].get();
    auto now = steady_ns();
    std::lock_guard<std::mutex> guard{mutex_};
    r.done = gone_.done;
    r.failed = gone_.failed + refused.get();
    r.busy_ns = gone_.busy_ns;
    for (const auto& w : workers_) {
      worker_reading x{w->held.get(), w->done.get(), w->failed.get(), w->busy_until(now)};
      r.done += x.done;
      r.failed += x.failed;
      r.busy_ns += x.busy_ns;
      r.workers.push_back(x);
    }
    return r;
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<worker_counters>> workers_;
  worker_reading gone_;
};

/// The counters of every local stage of a node, by stage (null where a stage runs remotely).
struct node_stage_counters {
  std::array<std::shared_ptr<stage_counters>, stage_count> stages;

  static std::shared_ptr<node_stage_counters> make_all() {
    auto n = std::make_shared<node_stage_counters>();
    for (auto& s : n->stages)
      s = std::make_shared<stage_counters>();
    return n;
  }
};

} // namespace taskpipe
