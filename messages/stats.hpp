// What the coordinator tells the dashboard's stats actor once a second: its batch bookkeeping
// (the most recent batches, admissions) and the failures it recorded. Never sent per task.
#pragma once

#include "messages/outcome.hpp"

#include <caf/meta/type_name.hpp>

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

} // namespace taskpipe
