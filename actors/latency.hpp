// Simulated stage latency: the model, and the batched timer queue that waits without a timer per
// task (one delayed_send per task saturates CAF's single clock thread near 1M timers/s).
#pragma once

#include "messages/task.hpp"

#include <caf/fwd.hpp>
#include <caf/actor_clock.hpp>
#include <caf/timestamp.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

/// `seed`: 100 ms per stage, 500 ms when id % 5 == 0; `zero`: none; `fixed`: `fixed_ms` for every
/// task.
struct latency_model {
  enum class kind : std::uint8_t { zero, seed, fixed };
  kind mode = kind::zero;
  std::int64_t fixed_ms = 0;

  std::chrono::milliseconds delay(std::int64_t id) const;

  /// The lower bound for a batch: the slowest task's sum of four stage latencies.
  std::chrono::milliseconds critical_path(const std::vector<task_update>& tasks) const;
};

/// Parses `seed`, `zero` or a whole number of milliseconds (0 to 3,600,000).
bool parse_latency(std::string_view text, latency_model& out);

std::string to_string(const latency_model& x);

/// Tasks waiting out their latency: one FIFO per distinct delay, so every FIFO is ordered by due
/// time and the earliest deadline is the minimum over the FIFO fronts. Tasks are queued in blocks
/// (those of one chunk with the same delay), so a million tasks cost a few thousand entries.
class delay_queue {
public:
  using time_point = caf::actor_clock::time_point;

  /// Queues `tasks` until `now + delay`.
  void push(std::vector<task_envelope> tasks, time_point now, caf::timespan delay);

  /// Moves every block of tasks due at `now` into `out`, in due order per FIFO.
  void pop_due(time_point now, std::vector<std::vector<task_envelope>>& out);

  /// Removes every queued task of `batch` into `out`.
  void take_batch(std::uint64_t batch, std::vector<task_envelope>& out);

  /// The earliest due time; only valid when !empty().
  time_point next_due() const;

  bool empty() const {
    return size_ == 0;
  }

  /// The number of tasks queued.
  std::size_t size() const {
    return size_;
  }

private:
  struct block {
    time_point due;
    std::vector<task_envelope> tasks;
  };
  std::map<caf::timespan, std::deque<block>> fifos_;
  std::size_t size_ = 0;
};

} // namespace taskpipe
