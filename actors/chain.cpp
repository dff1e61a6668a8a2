#include "actors/chain.hpp"

#include "actors/remote/remote_stage.hpp"
#include "actors/stage.hpp"

#include <caf/actor_system.hpp>

#include <algorithm>

namespace taskpipe {

namespace {

const std::vector<endpoint>* replicas_of(const remote_hosts& remote, stage s) {
  for (const auto& [which, replicas] : remote)
    if (which == s)
      return &replicas;
  return nullptr;
}

} // namespace

std::vector<stage_actor> spawn_chain(caf::actor_system& sys, const std::vector<stage>& stages,
                                     const local_stage_options& local,
                                     const chain_placement& placement, stage_actor next,
                                     const chain_outputs& outputs) {
  std::vector<stage_actor> reversed;
  for (auto i = stages.size(); i-- > 0;) {
    if (auto replicas = replicas_of(placement.remote, stages[i])) {
      remote_stage_config rc;
      rc.stages = {stages[i]};
      while (i > 0 && replicas_of(placement.remote, stages[i - 1]) != nullptr
             && *replicas_of(placement.remote, stages[i - 1]) == *replicas)
        rc.stages.insert(rc.stages.begin(), stages[--i]);
      rc.replicas = *replicas;
      rc.next = next;
      rc.coordinator = outputs.coordinator;
      rc.failures = outputs.failures;
      rc.tls = placement.tls;
      rc.on_peer = placement.on_peer;
      next = spawn_remote_stage(sys, std::move(rc));
    } else {
      stage_config sc;
      sc.which = stages[i];
      sc.workers = local.workers;
      sc.latency = local.latency;
      sc.chunk_size = local.chunk_size;
      sc.next = next;
      sc.coordinator = outputs.coordinator;
      sc.failures = outputs.failures;
      sc.store = local.store;
      if (stages[i] == stage::validate && local.reader)
        sc.store = local.reader;
      else if (const auto& own = local.writers[static_cast<std::size_t>(stages[i])])
        sc.store = own;
      sc.metrics = local.metrics;
      sc.faults = local.faults;
      if (local.counters)
        sc.counters = local.counters->stages[static_cast<std::size_t>(stages[i])];
      next = spawn_stage(sys, std::move(sc));
    }
    reversed.push_back(next);
  }
  return {reversed.rbegin(), reversed.rend()};
}

} // namespace taskpipe
