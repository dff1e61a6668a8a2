#include "actors/store_actor.hpp"

#include "actors/closed_batches.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace taskpipe {

namespace {

using store_promise = caf::typed_response_promise<std::uint64_t, task_chunk, failure_chunk>;

struct store_request {
  stage where;
  std::uint64_t ticket;
  task_chunk tasks;
  store_promise promise;
};

/// The store actor also talks to itself: the group commit.
using store_actor_impl = store_actor::extend<
  // Runs everything queued so far as one transaction.
  caf::reacts_to<caf::flush_atom>>;

struct store_state {
  std::shared_ptr<task_store> store;
  /// Cancelled and expired batches: checked as each transaction runs, so a close message either
  /// precedes a transaction (its tasks are refused) or follows it (they were written).
  closed_batches closed;
  /// Requests that arrived since the last flush; one transaction runs them all.
  std::vector<store_request> pending;
  static inline const char* name = "store";
};

failure_code code_of(store_result::kind k) {
  return k == store_result::kind::not_found ? failure_code::not_found
                                            : failure_code::storage_error;
}

/// Moves the tasks of closed batches out of `tasks` into `failed`.
void refuse_closed(const store_state& st, stage where, std::vector<task_envelope>& tasks,
                   failure_chunk& failed) {
  if (st.closed.empty())
    return;
  auto open_end = std::stable_partition(tasks.begin(), tasks.end(), [&](const auto& t) {
    return st.closed.find(t.batch, where) == nullptr;
  });
  for (auto i = open_end; i != tasks.end(); ++i) {
    auto code = *st.closed.find(i->batch, where);
    failed.failures.push_back(
      task_failure{i->batch, i->index, i->update.id, where, code, closed_reason(where, code)});
  }
  tasks.erase(open_end, tasks.end());
}

/// Runs every pending request in one transaction and answers each.
void flush(store_state& st) {
  auto requests = std::move(st.pending);
  st.pending.clear();
  std::vector<failure_chunk> failed(requests.size());
  std::vector<store_result> results;
  st.store->begin();
  for (std::size_t r = 0; r < requests.size(); ++r) {
    // Tasks that pass stay in the request's chunk, compacted in place.
    auto& tasks = requests[r].tasks.tasks;
    refuse_closed(st, requests[r].where, tasks, failed[r]);
    if (tasks.empty())
      continue;
    st.store->apply_chunk(requests[r].where, tasks, results);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      auto& t = tasks[i];
      auto& result = results[i];
      if (result.outcome == store_result::kind::ok) {
        if (kept != i)
          tasks[kept] = std::move(t);
        ++kept;
      } else {
        failed[r].failures.push_back(task_failure{t.batch, t.index, t.update.id,
                                                  requests[r].where, code_of(result.outcome),
                                                  std::move(result.reason)});
      }
    }
    tasks.erase(tasks.begin() + static_cast<std::ptrdiff_t>(kept), tasks.end());
  }
  if (auto problem = st.store->commit(); !problem.empty()) {
    // Nothing of the group was written: every task that had passed fails instead.
    for (std::size_t r = 0; r < requests.size(); ++r) {
      for (auto& t : requests[r].tasks.tasks)
        failed[r].failures.push_back(task_failure{
          t.batch, t.index, t.update.id, requests[r].where, failure_code::storage_error,
          fmt::format("{} commit failed: {}", to_string(requests[r].where), problem)});
      requests[r].tasks.tasks.clear();
    }
  }
  for (std::size_t r = 0; r < requests.size(); ++r)
    requests[r].promise.deliver(requests[r].ticket, std::move(requests[r].tasks),
                                std::move(failed[r]));
}

store_actor_impl::behavior_type store_behavior(store_actor_impl::stateful_pointer<store_state> self,
                                               std::shared_ptr<task_store> store) {
  self->state.store = std::move(store);
  return {
    [self](stage where, std::uint64_t ticket, task_chunk& tasks) -> store_promise {
      auto promise = self->make_response_promise<std::uint64_t, task_chunk, failure_chunk>();
      if (self->state.pending.empty())
        self->send(self, caf::flush_atom_v);  // queued behind everything already waiting
      self->state.pending.push_back({where, ticket, std::move(tasks), promise});
      return promise;
    },
    [self](get_atom, std::int64_t id) -> stored_task {
      if (auto found = self->state.store->find(id))
        return *found;
      return stored_task{};
    },
    [self](get_atom) -> store_counts { return self->state.store->counts(); },
    [self](cancel_atom, std::uint64_t batch) {
      self->state.closed.close(batch, failure_code::cancelled, self->clock().now());
    },
    [self](expire_atom, std::uint64_t batch) {
      self->state.closed.close(batch, failure_code::timeout, self->clock().now());
    },
    [self](caf::flush_atom) { flush(self->state); },
  };
}

} // namespace

store_actor spawn_store_actor(caf::actor_system& sys, std::unique_ptr<task_store> store,
                              bool blocking) {
  // spawn copies its arguments: hand the store over in a shared_ptr.
  std::shared_ptr<task_store> owned{std::move(store)};
  if (blocking)
    return sys.spawn<caf::detached>(store_behavior, std::move(owned));
  return sys.spawn(store_behavior, std::move(owned));
}

} // namespace taskpipe
