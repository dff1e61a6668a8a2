#include "actors/pipeline.hpp"

#include "actors/coordinator.hpp"
#include "actors/store_actor.hpp"

#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <stdexcept>

namespace taskpipe {

store_actor spawn_store(caf::actor_system& sys, const pipeline_config& cfg,
                        std::uint64_t* last_batch, bool* numbers_batches,
                        stage_writers* writers) {
  store_options opts;
  opts.kind = cfg.store;
  opts.location = cfg.db_path;
  opts.sync = cfg.sync;
  opts.retention = cfg.retention;
  auto store = open_store(opts);
  if (!store)
    throw std::runtime_error(reason_of(store.error()));
  if (cfg.seed_tasks > 0)
    if (auto err = (*store)->seed(cfg.seed_tasks))
      throw std::runtime_error(reason_of(err));
  if (last_batch) {
    auto last = (*store)->last_batch();
    if (!last)
      throw std::runtime_error(reason_of(last.error()));
    *last_batch = *last;
  }
  if (numbers_batches)
    *numbers_batches = (*store)->numbers_batches();
  store_actor_config sc;
  sc.purge_interval = cfg.purge_interval;
  stage_writers own;
  if (cfg.store == store_kind::postgres)
    for (auto s : cfg.own_writers) {
      // Each a connection of its own (store_actor_config::stage_writers), linked to the store
      // actor below.
      auto& writer = own[static_cast<std::size_t>(s)];
      if (writer)
        continue;
      auto opened = open_store(opts);
      if (!opened) {
        for (auto& spawned : sc.stage_writers)
          caf::anon_send_exit(spawned, caf::exit_reason::user_shutdown);
        throw std::runtime_error(reason_of(opened.error()));
      }
      writer = spawn_store_actor(sys, std::move(*opened));
      sc.stage_writers.push_back(writer);
    }
  if (writers)
    *writers = own;
  return spawn_store_actor(sys, std::move(*store), sc);
}

store_actor spawn_reader(caf::actor_system& sys, const pipeline_config& cfg,
                         const store_actor& writer) {
  if (cfg.store != store_kind::postgres)
    return writer;
  store_options opts;
  opts.kind = cfg.store;
  opts.location = cfg.db_path;
  opts.retention = cfg.retention;
  auto store = open_store(opts);
  if (!store)
    throw std::runtime_error(reason_of(store.error()));
  return spawn_store_actor(sys, std::move(*store), {}, writer); // the writer purges
}

local_stage_options local_stages(const pipeline_config& cfg, store_actor store,
                                 std::shared_ptr<pipeline_metrics> metrics, store_actor reader,
                                 stage_writers writers) {
  local_stage_options local;
  local.workers = cfg.workers;
  local.latency = cfg.latency;
  local.chunk_size = cfg.chunk_size;
  local.store = std::move(store);
  local.reader = std::move(reader);
  local.writers = std::move(writers);
  local.metrics = std::move(metrics);
  local.faults = cfg.faults;
  return local;
}

pipeline spawn_pipeline(caf::actor_system& sys, const pipeline_config& cfg) {
  pipeline result;
  result.metrics = std::make_shared<pipeline_metrics>();
  result.counters = node_stage_counters::make_all();
  coordinator_config cc;
  result.store = spawn_store(sys, cfg, &cc.last_batch, &cc.store_numbers, &result.writers);
  cc.max_in_flight = cfg.max_in_flight;
  cc.batch_timeout = cfg.batch_timeout;
  cc.chunk_size = cfg.chunk_size;
  cc.stage_hosts = !cfg.remote.empty();
  cc.journal = cfg.journal;
  cc.retention = cfg.retention;
  cc.cached_reports = cfg.cached_reports;
  cc.cached_report_bytes = cfg.cached_report_bytes;
  try {
    result.reader = spawn_reader(sys, cfg, result.store);
  } catch (...) {
    caf::anon_send_exit(result.store, caf::exit_reason::user_shutdown);
    throw;
  }
  auto local = local_stages(cfg, result.store, result.metrics, result.reader, result.writers);
  local.counters = result.counters;
  auto build_chain = [local = std::move(local),
                      placement = chain_placement{cfg.remote, cfg.tls, cfg.on_peer}](
                       caf::actor_system& sys, const chain_outputs& outputs) {
    return spawn_chain(sys, {std::begin(all_stages), std::end(all_stages)}, local, placement,
                       stage_actor{}, outputs);
  };
  result.coordinator = spawn_coordinator(sys, cc, build_chain, result.store, result.metrics);
  return result;
}

std::uint64_t resume_unfinished(caf::actor_system& sys, const pipeline& node) {
  caf::scoped_actor self{sys};
  std::uint64_t resumed = 0;
  std::string failure;
  self->request(node.coordinator, caf::infinite, resume_atom_v)
    .receive([&](std::uint64_t n) { resumed = n; },
             [&](caf::error& err) { failure = reason_of(err); });
  if (!failure.empty()) {
    // Nothing was resumed (the journal is read whole first): the drain ends every actor.
    self->request(node.coordinator, caf::infinite, drain_atom_v)
      .receive([](done_atom) {}, [](caf::error&) {});
    throw std::runtime_error("cannot resume the journal's batches: " + failure);
  }
  return resumed;
}

} // namespace taskpipe
