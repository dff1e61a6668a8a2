#include "actors/remote/replica_relay.hpp"

#include <caf/all.hpp>

#include <unordered_map>

namespace taskpipe {

namespace {

struct relay_state {
  relay_outputs out;
  stage_actor chain;
  /// The tasks sent to the replica that have not come back, by (batch, index).
  std::unordered_map<std::uint64_t, std::unordered_map<std::uint32_t, task_envelope>> held;
  static inline const char* name = "replica_relay";
};

using relay_pointer = replica_relay_actor::stateful_pointer<relay_state>;

void release(relay_state& st, std::uint64_t batch, std::uint32_t index) {
  auto i = st.held.find(batch);
  if (i == st.held.end())
    return;
  i->second.erase(index);
  if (i->second.empty())
    st.held.erase(i);
}

/// Hands back everything held (and `extra`, a chunk the relay could not send) to the remote stage.
void return_all(relay_pointer self, task_chunk extra = {}) {
  auto& st = self->state;
  for (auto& [batch, tasks] : st.held)
    for (auto& [index, t] : tasks)
      extra.tasks.push_back(std::move(t));
  st.held.clear();
  if (!extra.tasks.empty())
    self->send(st.out.remote_stage, node_lost_atom_v, std::move(extra));
}

replica_relay_actor::behavior_type replica_relay(relay_pointer self, relay_outputs outputs) {
  self->state.out = std::move(outputs);
  return {
    [self](task_chunk& chunk) {
      auto& st = self->state;
      for (const auto& t : chunk.tasks)
        release(st, t.batch, t.index);
      if (st.out.next)
        self->send(st.out.next, std::move(chunk));
    },
    [self](cancel_atom, std::uint64_t batch) {
      if (self->state.out.next)
        self->send(self->state.out.next, cancel_atom_v, batch);
    },
    [self](expire_atom, std::uint64_t batch) {
      if (self->state.out.next)
        self->send(self->state.out.next, expire_atom_v, batch);
    },
    [self](completion_chunk& done) {
      auto& st = self->state;
      for (const auto& t : done.tasks)
        release(st, t.batch, t.index);
      self->send(st.out.coordinator, std::move(done));
    },
    [self](failure_chunk& failed) {
      auto& st = self->state;
      for (const auto& f : failed.failures)
        release(st, f.batch, f.index);
      self->send(st.out.failures, std::move(failed));
    },
    [self](get_atom get) { return self->delegate(self->state.out.failures, get); },
    [self](forward_atom, stage_actor& chain) { self->state.chain = std::move(chain); },
    [self](forward_atom, task_chunk& chunk) {
      auto& st = self->state;
      if (!st.chain)
        return return_all(self, std::move(chunk));
      for (const auto& t : chunk.tasks)
        st.held[t.batch].insert_or_assign(t.index, t);
      self->send(st.chain, std::move(chunk));
    },
    [self](node_lost_atom) {
      return_all(self);
      self->quit();
    },
  };
}

} // namespace

replica_relay_actor spawn_replica_relay(caf::local_actor* parent, relay_outputs outputs) {
  return parent->spawn<caf::linked>(replica_relay, std::move(outputs));
}

} // namespace taskpipe
