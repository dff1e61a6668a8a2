#include "actors/pipeline.hpp"

#include "actors/coordinator.hpp"
#include "actors/store_actor.hpp"

#include <stdexcept>

namespace taskpipe {

store_actor spawn_store(caf::actor_system& sys, const pipeline_config& cfg) {
  store_options opts;
  opts.kind = cfg.store;
  opts.location = cfg.db_path;
  opts.sync = cfg.sync;
  auto store = open_store(opts);
  if (!store)
    throw std::runtime_error(reason_of(store.error()));
  if (cfg.seed_tasks > 0)
    if (auto err = (*store)->seed(cfg.seed_tasks))
      throw std::runtime_error(reason_of(err));
  return spawn_store_actor(sys, std::move(*store));
}

pipeline spawn_pipeline(caf::actor_system& sys, const pipeline_config& cfg) {
  pipeline result;
  result.metrics = std::make_shared<pipeline_metrics>();
  result.store = spawn_store(sys, cfg);
  result.coordinator = spawn_coordinator(sys, cfg, result.store, result.metrics);
  return result;
}

} // namespace taskpipe
