// Batches that were cancelled or whose deadline passed. Every stage router and the store actor
// keep one, so that a closed batch's tasks fail wherever they are: held by a router, arriving
// at one, or reaching the store (which enforces the cut-off inside its transaction).
#pragma once

#include "messages/outcome.hpp"

#include <caf/actor_clock.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

namespace taskpipe {

/// Whether closing a batch with `code` (cancelled or timeout) fails its tasks in `where`.
/// Cancel applies before the task is applied: in Validate, Audit and Update up to Update's store
/// transaction (tasks inside that transaction finish). A deadline applies everywhere; in Notify
/// the update was already applied, and the reason says so.
inline bool closes(failure_code code, stage where) {
  return code != failure_code::cancelled || where != stage::notify;
}

/// The reason given to a task of a batch closed with `code` while the task was in `where`.
std::string closed_reason(stage where, failure_code code);

class closed_batches {
public:
  using time_point = caf::actor_clock::time_point;

  /// How long a closed batch is remembered, so its stragglers fail on arrival.
  static constexpr auto retention = std::chrono::minutes{10};

  /// Remembers that `batch` was closed with `code` (cancelled or timeout). A batch cancelled
  /// first and expired later stays cancelled where cancel applies, and times out in Notify.
  void close(std::uint64_t batch, failure_code code, time_point now) {
    while (!order_.empty() && now - order_.front().first > retention) {
      marks_.erase(order_.front().second);
      order_.pop_front();
    }
    auto [i, added] = marks_.try_emplace(batch);
    if (added)
      order_.emplace_back(now, batch);
    (code == failure_code::cancelled ? i->second.cancelled : i->second.expired) = true;
  }

  /// The code `batch`'s tasks fail with in `where`, or nullptr when it is open there.
  const failure_code* find(std::uint64_t batch, stage where) const {
    static constexpr failure_code cancelled = failure_code::cancelled;
    static constexpr failure_code timeout = failure_code::timeout;
    auto i = marks_.find(batch);
    if (i == marks_.end())
      return nullptr;
    if (i->second.cancelled && closes(cancelled, where))
      return &cancelled;
    return i->second.expired ? &timeout : nullptr;
  }

  bool empty() const {
    return marks_.empty();
  }

private:
  struct marks {
    bool cancelled = false;
    bool expired = false;
  };
  std::unordered_map<std::uint64_t, marks> marks_;
  std::deque<std::pair<time_point, std::uint64_t>> order_;
};

} // namespace taskpipe
