#include "actors/remote/replica_relay.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>

#include <unordered_map>

namespace taskpipe {

namespace {

struct held_task {
  task_envelope task;
  bool replayed; ///< a replay of a task a lost replica held
};

struct relay_state {
  relay_outputs out;
  stage_actor chain;
  /// The tasks sent to the replica that have not come back, by (batch, index).
  std::unordered_map<std::uint64_t, std::unordered_map<std::uint32_t, held_task>> held;
  static inline const char* name = "replica_relay";
};

using relay_pointer = replica_relay_actor::stateful_pointer<relay_state>;

/// Forgets a task that came back; true if it was a replay.
bool release(relay_state& st, std::uint64_t batch, std::uint32_t index) {
  auto i = st.held.find(batch);
  if (i == st.held.end())
    return false;
  auto j = i->second.find(index);
  if (j == i->second.end())
    return false;
  bool replayed = j->second.replayed;
  i->second.erase(j);
  if (i->second.empty())
    st.held.erase(i);
  return replayed;
}

/// Whether a replay's failure may hide that the lost replica applied the original: a failure of
/// timing (closed batch, store, host, bug) up to Update, where "not applied" would be claimed.
/// Checks of the request itself fail the original alike and stay.
bool hides_original(const task_failure& f) {
  switch (f.code) {
    case failure_code::cancelled:
    case failure_code::timeout:
    case failure_code::storage_error:
    case failure_code::node_lost:
    case failure_code::internal:
      return f.where <= stage::update;
    default:
      return false;
  }
}

/// Hands back everything held (and `extra`, a chunk the relay could not send) to the remote stage.
void return_all(relay_pointer self, task_chunk extra = {}) {
  auto& st = self->state;
  for (auto& [batch, tasks] : st.held)
    for (auto& [index, h] : tasks)
      extra.tasks.push_back(std::move(h.task));
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
      for (auto& f : failed.failures)
        if (release(st, f.batch, f.index) && st.out.may_apply && hides_original(f)) {
          f.reason = fmt::format("the stage host holding the task was lost and its replay "
                                 "failed ({} at {}); the update may have been applied on the "
                                 "lost host",
                                 to_string(f.code), to_string(f.where));
          f.code = failure_code::node_lost;
          f.where = stage::update; // where it may have been applied: "at validate" means not
        }
      self->send(st.out.failures, std::move(failed));
    },
    [self](get_atom get) { return self->delegate(self->state.out.failures, get); },
    [self](forward_atom, stage_actor& chain) { self->state.chain = std::move(chain); },
    [self](forward_atom, task_chunk& chunk, bool replayed) {
      auto& st = self->state;
      if (!st.chain)
        return return_all(self, std::move(chunk));
      for (const auto& t : chunk.tasks)
        st.held[t.batch].insert_or_assign(t.index, held_task{t, replayed});
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
