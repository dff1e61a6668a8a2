#include "actors/remote/remote_stage.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace taskpipe {

namespace {

struct replica {
  endpoint where;
  stage_actor chain;        ///< the stages spawned on that host for us; invalid while down
  bool connecting = false;
  bool tried = false;       ///< its first connection attempt has ended, well or not
  std::string last_error;
};

struct remote_state {
  remote_stage_config cfg;
  std::vector<replica> replicas;
  std::size_t next_replica = 0;
  std::vector<task_chunk> waiting;  ///< chunks that arrived before the replicas were up
  /// Chunks wait only at start-up: until every replica's first attempt has ended (so that the
  /// first chunks spread over all of them) or connect_timeout passes.
  bool may_wait = true;
  static inline const char* name = "remote_stage";
};

/// A remote stage also talks to itself: reconnect timers.
using remote_stage_actor = stage_actor::extend<
  // Retry connecting replica number N.
  caf::reacts_to<reconnect_atom, std::uint64_t>,
  // The wait for a first replica is over.
  caf::reacts_to<reconnect_atom>>;

using remote_pointer = remote_stage_actor::stateful_pointer<remote_state>;

std::vector<std::string> stage_names(const remote_stage_config& cfg) {
  std::vector<std::string> names;
  for (auto s : cfg.stages)
    names.push_back(to_string(s));
  return names;
}

std::string lost_reason(remote_state& st) {
  std::string hosts;
  for (const auto& r : st.replicas)
    hosts += (hosts.empty() ? "" : ", ") + to_string(r.where)
             + (r.last_error.empty() ? "" : " (" + r.last_error + ")");
  return fmt::format("no stage host for {} is reachable: {}", to_string(st.cfg.stages.front()),
                     hosts);
}

void fail_chunk(remote_pointer self, task_chunk& chunk) {
  auto& st = self->state;
  failure_chunk failed;
  failed.failures.reserve(chunk.tasks.size());
  auto reason = lost_reason(st);
  for (const auto& t : chunk.tasks)
    failed.failures.push_back(task_failure{t.batch, t.index, t.update.id, st.cfg.stages.front(),
                                           failure_code::node_lost, reason});
  self->send(st.cfg.failures, std::move(failed));
}

replica* pick(remote_state& st) {
  for (std::size_t i = 0; i < st.replicas.size(); ++i) {
    auto& r = st.replicas[(st.next_replica + i) % st.replicas.size()];
    if (r.chain) {
      st.next_replica = (st.next_replica + i + 1) % st.replicas.size();
      return &r;
    }
  }
  return nullptr;
}

void route(remote_pointer self, task_chunk& chunk) {
  auto& st = self->state;
  if (st.may_wait)
    st.waiting.push_back(std::move(chunk));
  else if (auto r = pick(st))
    self->send(r->chain, std::move(chunk));
  else
    fail_chunk(self, chunk);
}

void flush_waiting(remote_pointer self) {
  auto chunks = std::move(self->state.waiting);
  self->state.waiting.clear();
  for (auto& c : chunks)
    route(self, c);
}

void connect(remote_pointer self, std::size_t index);

/// Ends the start-up wait once every replica has had its first try.
void first_attempt_ended(remote_pointer self, std::size_t index) {
  auto& st = self->state;
  st.replicas[index].tried = true;
  if (st.may_wait
      && std::all_of(st.replicas.begin(), st.replicas.end(), [](const replica& r) { return r.tried; })) {
    st.may_wait = false;
    flush_waiting(self);
  }
}

void schedule_reconnect(remote_pointer self, std::size_t index) {
  self->delayed_send(self, self->state.cfg.reconnect_interval, reconnect_atom_v,
                     static_cast<std::uint64_t>(index));
}

/// Connects to replica `index` (asynchronously, through the middleman actor) and has it spawn our
/// stages.
void connect(remote_pointer self, std::size_t index) {
  auto& st = self->state;
  auto& r = st.replicas[index];
  if (r.chain || r.connecting)
    return;
  r.connecting = true;
  auto& sys = self->system();
  auto mm = st.cfg.tls ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
  auto on_error = [self, index](caf::error& err) {
    auto& r = self->state.replicas[index];
    r.connecting = false;
    r.last_error = self->system().render(err);
    first_attempt_ended(self, index);
    schedule_reconnect(self, index);
  };
  // A frozen host accepts the TCP connection but never answers the handshake: give up after a
  // while and retry, instead of waiting forever.
  self->request(mm, st.cfg.connect_timeout, caf::connect_atom_v, r.where.host, r.where.port)
    .then(
      [self, index, on_error](const caf::node_id&, caf::strong_actor_ptr& ptr,
                              const std::set<std::string>&) mutable {
        auto host = caf::actor_cast<stage_host_actor>(ptr);
        if (!host) {
          caf::error err = caf::make_error(caf::sec::no_actor_published_at_port);
          on_error(err);
          return;
        }
        auto& cfg = self->state.cfg;
        self->request(host, cfg.connect_timeout, spawn_atom_v, stage_names(cfg), cfg.next,
                      cfg.coordinator, cfg.failures)
          .then(
            [self, index](stage_actor& chain) {
              auto& r = self->state.replicas[index];
              r.connecting = false;
              r.last_error.clear();
              r.chain = chain;
              self->monitor(chain);
              first_attempt_ended(self, index);
            },
            on_error);
      },
      on_error);
}

remote_stage_actor::behavior_type remote_stage(remote_pointer self, remote_stage_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  for (const auto& where : st.cfg.replicas)
    st.replicas.push_back(replica{where, {}, false, false, {}});
  for (std::size_t i = 0; i < st.replicas.size(); ++i)
    connect(self, i);
  self->delayed_send(self, st.cfg.connect_timeout, reconnect_atom_v);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    for (std::size_t i = 0; i < st.replicas.size(); ++i) {
      auto& r = st.replicas[i];
      if (r.chain && r.chain.address() == msg.source) {
        r.chain = nullptr;
        r.last_error = "lost: " + self->system().render(msg.reason);
        // Whatever that replica held is replayed from the first stage by the coordinator.
        self->send(st.cfg.coordinator, node_lost_atom_v);
        schedule_reconnect(self, i);
      }
    }
  });
  return {
    [self](task_chunk& chunk) { route(self, chunk); },
    [self](cancel_atom, std::uint64_t batch) {
      for (auto& r : self->state.replicas)
        if (r.chain)
          self->send(r.chain, cancel_atom_v, batch);
    },
    [self](expire_atom, std::uint64_t batch) {
      for (auto& r : self->state.replicas)
        if (r.chain)
          self->send(r.chain, expire_atom_v, batch);
    },
    [self](reconnect_atom, std::uint64_t index) {
      if (index < self->state.replicas.size())
        connect(self, static_cast<std::size_t>(index));
    },
    [self](reconnect_atom) {
      self->state.may_wait = false;
      flush_waiting(self);
    },
  };
}

} // namespace

stage_actor spawn_remote_stage(caf::actor_system& sys, remote_stage_config cfg) {
  return sys.spawn(remote_stage, std::move(cfg));
}

} // namespace taskpipe
