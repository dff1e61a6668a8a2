#include "actors/pipeline.hpp"

#include "actors/coordinator.hpp"
#include "actors/store_actor.hpp"
#include "actors/store/task_store.hpp"

namespace taskpipe {

store_actor spawn_store(caf::actor_system& sys, const pipeline_config& cfg) {
  auto store = cfg.store == store_kind::sqlite ? make_sqlite_store(cfg.db_path)
                                               : make_memory_store();
  if (cfg.seed_tasks > 0)
    store->seed(cfg.seed_tasks);
  return spawn_store_actor(sys, std::move(store), cfg.store == store_kind::sqlite);
}

local_stage_options local_stages(const pipeline_config& cfg, store_actor store,
                                 std::shared_ptr<pipeline_metrics> metrics) {
  local_stage_options local;
  local.workers = cfg.workers;
  local.latency = cfg.latency;
  local.chunk_size = cfg.chunk_size;
  local.store = std::move(store);
  local.metrics = std::move(metrics);
  local.faults = cfg.faults;
  return local;
}

pipeline spawn_pipeline(caf::actor_system& sys, const pipeline_config& cfg) {
  pipeline result;
  result.metrics = std::make_shared<pipeline_metrics>();
  result.store = spawn_store(sys, cfg);
  coordinator_config cc;
  cc.max_in_flight = cfg.max_in_flight;
  cc.batch_timeout = cfg.batch_timeout;
  cc.chunk_size = cfg.chunk_size;
  cc.replay_on_node_loss = !cfg.remote.empty();
  auto build_chain = [local = local_stages(cfg, result.store, result.metrics),
                      placement = chain_placement{cfg.remote, cfg.tls}](
                       caf::actor_system& sys, const chain_outputs& outputs) {
    return spawn_chain(sys, {std::begin(all_stages), std::end(all_stages)}, local, placement,
                       stage_actor{}, outputs);
  };
  result.coordinator = spawn_coordinator(sys, cc, build_chain, result.store, result.metrics);
  return result;
}

} // namespace taskpipe
