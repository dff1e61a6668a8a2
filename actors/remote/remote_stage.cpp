#include "actors/remote/remote_stage.hpp"

#include "actors/closed_batches.hpp"
#include "actors/remote/replica_relay.hpp"

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
  stage_segment_actor chain; ///< the stages spawned on that host for us; invalid while down
  replica_relay_actor relay; ///< tasks go to the chain and come back through it; with chain
  bool connecting = false;
  bool tried = false;       ///< its first connection attempt has ended, well or not
  std::string last_error;
};

struct remote_state {
  remote_stage_config cfg;
  std::vector<replica> replicas;
  std::size_t next_replica = 0;
  /// Chunks that arrived before the replicas were up, and whether they are replays.
  std::vector<std::pair<task_chunk, bool>> waiting;
  closed_batches closed;            ///< cancelled and expired batches: a lost replica's tasks
                                    ///< of these are failed, not replayed
  /// Chunks wait only at start-up: until every replica's first attempt has ended (so that the
  /// first chunks spread over all of them) or connect_timeout passes.
  bool may_wait = true;
  static inline const char* name = "remote_stage";
};

/// A remote stage also talks to itself (reconnect timers) and hears from its relays.
using remote_stage_actor = stage_actor::extend_with<orphan_sink_actor>::extend<
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

void report(remote_state& st, peer_event::kind what, const replica& r, std::string detail = {}) {
  if (st.cfg.on_peer)
    st.cfg.on_peer(peer_event{what, st.cfg.stages, to_string(r.where), std::move(detail),
                              r.chain ? r.chain.address() : caf::actor_addr{}});
}

/// Whether a task this segment held may have been applied: it has Update or a later stage.
bool may_apply(const remote_stage_config& cfg) {
  return cfg.stages.back() >= stage::update;
}

/// The stage a task of this segment fails at when no host has it: where it may have been applied,
/// the segment's last stage (so that the reason may say so), else its first (not applied).
stage failing_stage(const remote_stage_config& cfg) {
  return may_apply(cfg) ? cfg.stages.back() : cfg.stages.front();
}

constexpr const char* may_have_applied = "; the update may have been applied there";

/// Fails a chunk no replica can take. `held` says a lost replica had it (it may have been
/// applied there), else no replica ever had it.
void fail_chunk(remote_pointer self, task_chunk& chunk, bool held = false) {
  auto& st = self->state;
  failure_chunk failed;
  failed.failures.reserve(chunk.tasks.size());
  auto reason = lost_reason(st);
  if (held && may_apply(st.cfg))
    reason += may_have_applied;
  auto where = held ? failing_stage(st.cfg) : st.cfg.stages.front();
  for (const auto& t : chunk.tasks)
    failed.failures.push_back(
      task_failure{t.batch, t.index, t.update.id, where, failure_code::node_lost, reason});
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

void route(remote_pointer self, task_chunk& chunk, bool held = false) {
  auto& st = self->state;
  if (st.may_wait)
    st.waiting.emplace_back(std::move(chunk), held);
  else if (auto r = pick(st))
    self->send(r->relay, forward_atom_v, std::move(chunk), held);
  else
    fail_chunk(self, chunk, held);
}

/// Tasks a lost replica held. Those of open batches go to another replica (the store's (batch,
/// task) keys make a second apply harmless). Those of a cancelled or expired batch are not
/// replayed (a replay would report them not applied): where the segment may have applied them
/// they fail node_lost saying so, else with the batch's code (they were not applied).
void orphaned(remote_pointer self, task_chunk& chunk) {
  auto& st = self->state;
  task_chunk again;
  failure_chunk failed;
  auto first = st.cfg.stages.front();
  for (auto& t : chunk.tasks) {
    auto code = st.closed.find(t.batch, first);
    if (!code) {
      again.tasks.push_back(std::move(t));
    } else if (may_apply(st.cfg)) {
      failed.failures.push_back(task_failure{
        t.batch, t.index, t.update.id, failing_stage(st.cfg), failure_code::node_lost,
        fmt::format("the stage host holding the task was lost after its batch was {}{}",
                    *code == failure_code::cancelled ? "cancelled" : "past its deadline",
                    may_have_applied)});
    } else {
      failed.failures.push_back(
        task_failure{t.batch, t.index, t.update.id, first, *code, closed_reason(first, *code)});
    }
  }
  if (!failed.failures.empty())
    self->send(st.cfg.failures, std::move(failed));
  if (!again.tasks.empty())
    route(self, again, true);
}

void flush_waiting(remote_pointer self) {
  auto chunks = std::move(self->state.waiting);
  self->state.waiting.clear();
  for (auto& [chunk, held] : chunks)
    route(self, chunk, held);
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
    if (!r.tried)  // retries of a host that stays away are not news
      report(self->state, peer_event::kind::unreachable, r, r.last_error);
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
        // The replica's output comes back through a relay of its own (see replica_relay.hpp).
        auto relay = spawn_replica_relay(self, relay_outputs{cfg.next, cfg.coordinator,
                                                             cfg.failures,
                                                             caf::actor_cast<orphan_sink_actor>(self),
                                                             may_apply(cfg)});
        auto next = cfg.next ? stage_actor{relay} : stage_actor{};
        self->request(host, cfg.connect_timeout, spawn_atom_v, stage_names(cfg), next,
                      outcome_sink_actor{relay}, failure_aggregator_actor{relay})
          .then(
            [self, index, relay](stage_segment_actor& chain) {
              auto& r = self->state.replicas[index];
              r.connecting = false;
              r.last_error.clear();
              r.chain = chain;
              r.relay = relay;
              self->send(relay, forward_atom_v, stage_actor{chain});
              self->monitor(chain);
              report(self->state, peer_event::kind::connected, r);
              first_attempt_ended(self, index);
            },
            [self, relay, on_error](caf::error& err) mutable {
              self->send(relay, node_lost_atom_v); // holds nothing yet: it just exits
              on_error(err);
            });
      },
      on_error);
}

remote_stage_actor::behavior_type remote_stage(remote_pointer self, remote_stage_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  for (const auto& where : st.cfg.replicas)
    st.replicas.push_back(replica{where, {}, {}, false, false, {}});
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
        report(st, peer_event::kind::lost, r, self->system().render(msg.reason));
        // Its relay hands back what the replica held, after every chunk sent to it so far.
        self->send(r.relay, node_lost_atom_v);
        r.relay = nullptr;
        schedule_reconnect(self, i);
      }
    }
  });
  return {
    [self](task_chunk& chunk) { route(self, chunk); },
    [self](node_lost_atom, task_chunk& chunk) { orphaned(self, chunk); },
    [self](cancel_atom, std::uint64_t batch) {
      auto& st = self->state;
      st.closed.close(batch, failure_code::cancelled, self->clock().now());
      for (auto& r : st.replicas)
        if (r.chain)
          self->send(r.chain, cancel_atom_v, batch);
    },
    [self](expire_atom, std::uint64_t batch) {
      auto& st = self->state;
      st.closed.close(batch, failure_code::timeout, self->clock().now());
      for (auto& r : st.replicas)
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
