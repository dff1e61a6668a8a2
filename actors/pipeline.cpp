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

pipeline spawn_pipeline(caf::actor_system& sys, const pipeline_config& cfg) {
  pipeline result;
  result.metrics = std::make_shared<pipeline_metrics>();
  result.store = spawn_store(sys, cfg);
  result.coordinator = spawn_coordinator(sys, cfg, result.store, result.metrics);
  return result;
}

} // namespace taskpipe
