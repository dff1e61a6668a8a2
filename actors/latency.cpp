#include "actors/latency.hpp"

#include <algorithm>
#include <iterator>
#include <charconv>

namespace taskpipe {

std::chrono::milliseconds latency_model::delay(std::int64_t id) const {
  using std::chrono::milliseconds;
  switch (mode) {
    case kind::zero:
      return milliseconds{0};
    case kind::seed:
      return milliseconds{id % 5 == 0 ? 500 : 100};
    case kind::fixed:
      return milliseconds{fixed_ms};
  }
  return milliseconds{0};
}

std::chrono::milliseconds
latency_model::critical_path(const std::vector<task_update>& tasks) const {
  std::chrono::milliseconds slowest{0};
  for (const auto& t : tasks)
    slowest = std::max(slowest, delay(t.id));
  return 4 * slowest;
}

bool parse_latency(std::string_view text, latency_model& out) {
  if (text == "seed") {
    out = {latency_model::kind::seed, 0};
    return true;
  }
  if (text == "zero") {
    out = {latency_model::kind::zero, 0};
    return true;
  }
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || ms < 0
      || ms > 3'600'000)
    return false;
  out = {latency_model::kind::fixed, ms};
  return true;
}

std::string to_string(const latency_model& x) {
  switch (x.mode) {
    case latency_model::kind::zero:
      return "zero";
    case latency_model::kind::seed:
      return "seed";
    case latency_model::kind::fixed:
      return std::to_string(x.fixed_ms) + " ms";
  }
  return "?";
}

void delay_queue::push(std::vector<task_envelope> tasks, time_point now, caf::timespan delay) {
  if (tasks.empty())
    return;
  size_ += tasks.size();
  fifos_[delay].push_back(block{now + delay, std::move(tasks)});
}

void delay_queue::pop_due(time_point now, std::vector<std::vector<task_envelope>>& out) {
  for (auto& [delay, fifo] : fifos_) {
    while (!fifo.empty() && fifo.front().due <= now) {
      size_ -= fifo.front().tasks.size();
      out.push_back(std::move(fifo.front().tasks));
      fifo.pop_front();
    }
  }
}

void delay_queue::take_batch(std::uint64_t batch, std::vector<task_envelope>& out) {
  for (auto& [delay, fifo] : fifos_) {
    for (auto& b : fifo) {
      auto keep = std::stable_partition(b.tasks.begin(), b.tasks.end(),
                                        [&](const task_envelope& t) { return t.batch != batch; });
      size_ -= static_cast<std::size_t>(b.tasks.end() - keep);
      std::move(keep, b.tasks.end(), std::back_inserter(out));
      b.tasks.erase(keep, b.tasks.end());
    }
    // Empty blocks stay until they are due: pop_due passes them on as nothing.
  }
}

delay_queue::time_point delay_queue::next_due() const {
  auto result = time_point::max();
  for (const auto& [delay, fifo] : fifos_)
    if (!fifo.empty())
      result = std::min(result, fifo.front().due);
  return result;
}

} // namespace taskpipe
