#include "actors/failure_aggregator.hpp"

#include <caf/all.hpp>

#include <unordered_map>

namespace taskpipe {

namespace {

struct aggregator_state {
  failure_counts counts;
  static inline const char* name = "failure_aggregator";
};

failure_aggregator_actor::behavior_type
aggregator_behavior(failure_aggregator_actor::stateful_pointer<aggregator_state> self,
                    outcome_sink_actor coordinator) {
  self->state.counts.by_stage_and_code.assign(stage_slot_count * failure_code_count, 0);
  return {
    [self, coordinator](failure_chunk& chunk) {
      auto& counts = self->state.counts.by_stage_and_code;
      // Chunks usually hold one batch: forward it whole and skip the grouping.
      bool one_batch = true;
      for (const auto& f : chunk.failures) {
        counts[failure_counts::slot(f.where, f.code)] += 1;
        one_batch = one_batch && f.batch == chunk.failures.front().batch;
      }
      if (chunk.failures.empty())
        return;
      if (one_batch) {
        self->send(coordinator, std::move(chunk));
        return;
      }
      std::unordered_map<std::uint64_t, failure_chunk> by_batch;
      for (auto& f : chunk.failures)
        by_batch[f.batch].failures.push_back(std::move(f));
      for (auto& [batch, group] : by_batch)
        self->send(coordinator, std::move(group));
    },
    [self](get_atom) { return self->state.counts; },
  };
}

} // namespace

failure_aggregator_actor spawn_failure_aggregator(caf::actor_system& sys,
                                                  outcome_sink_actor coordinator) {
  return sys.spawn(aggregator_behavior, std::move(coordinator));
}

} // namespace taskpipe
