#include "actors/pipeline.hpp"

#include "actors/coordinator.hpp"
#include "actors/store_actor.hpp"
#include "actors/store/task_store.hpp"

namespace taskpipe {

pipeline spawn_pipeline(caf::actor_system& sys, const pipeline_config& cfg) {
  auto store = cfg.store == store_kind::sqlite ? make_sqlite_store(cfg.db_path)
                                               : make_memory_store();
  if (cfg.seed_tasks > 0)
    store->seed(cfg.seed_tasks);
  pipeline result;
  result.metrics = std::make_shared<pipeline_metrics>();
  result.store = spawn_store_actor(sys, std::move(store), cfg.store == store_kind::sqlite);
  result.coordinator = spawn_coordinator(sys, cfg, result.store, result.metrics);
  return result;
}

} // namespace taskpipe
