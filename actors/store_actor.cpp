#include "actors/store_actor.hpp"

#include "actors/closed_batches.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace taskpipe {

namespace {

using store_promise = caf::typed_response_promise<std::uint64_t, task_chunk, failure_chunk>;

/// Who asked for a chunk_work of the pending group, and where to answer.
struct store_requester {
  std::uint64_t ticket;
  store_promise promise;
};

using journal_promise = caf::typed_response_promise<journaled_batch>;
using outcome_promise = caf::typed_response_promise<done_atom>;

/// The store actor also talks to itself: the group commit and the purge of expired batches.
using store_actor_impl = store_actor::extend<
  // Runs everything queued so far as one transaction.
  caf::reacts_to<caf::flush_atom>,
  // Removes a slice of expired batches; the next slice or the next round follows.
  caf::reacts_to<purge_atom>>;

struct store_state {
  std::shared_ptr<task_store> store;
  store_actor_config cfg;
  /// Cancelled and expired batches: checked as each transaction runs, so a close message either
  /// precedes a transaction (its tasks are refused) or follows it (they were written).
  closed_batches closed;
  /// The work that arrived since the last flush (one transaction runs it all) and, at the same
  /// positions, who asked for it.
  std::vector<chunk_work> pending;
  std::vector<store_requester> requesters;
  /// Journal writes and outcome records since the last flush, each group one transaction.
  std::vector<journaled_batch> journal;
  std::vector<journal_promise> journal_promises;
  /// Batches to number only (the journal off, on a store that numbers batches).
  std::vector<journaled_batch> unjournaled;
  std::vector<journal_promise> unjournaled_promises;
  std::vector<batch_outcome> outcomes;
  std::vector<outcome_promise> outcome_promises;
  static inline const char* name = "store";
};

/// Moves the tasks of closed batches out of `work` into `failed`.
void refuse_closed(const store_state& st, chunk_work& work, failure_chunk& failed) {
  if (st.closed.empty())
    return;
  auto& tasks = work.tasks;
  auto open_end = std::stable_partition(tasks.begin(), tasks.end(), [&](const auto& t) {
    return st.closed.find(t.batch, work.where) == nullptr;
  });
  for (auto i = open_end; i != tasks.end(); ++i) {
    auto code = *st.closed.find(i->batch, work.where);
    failed.failures.push_back(task_failure{i->batch, i->index, i->update.id, work.where, code,
                                           closed_reason(work.where, code)});
  }
  tasks.erase(open_end, tasks.end());
}

/// Answers each of `promises` with `answer(item)` when `err` is none; else writes each of `items`
/// on its own with `write` (its own transaction), so that one refused item fails alone.
template <class Item, class Promise, class Write, class Answer>
void answer_records(std::vector<Item>& items, std::vector<Promise>& promises,
                    const caf::error& err, Write write, Answer answer) {
  if (!err) {
    for (std::size_t i = 0; i < items.size(); ++i)
      answer(promises[i], items[i]);
    return;
  }
  if (items.size() == 1) {
    promises.front().deliver(err);
    return;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::vector<Item> one;
    one.push_back(std::move(items[i]));
    if (auto why = write(one))
      promises[i].deliver(std::move(why));
    else
      answer(promises[i], one.front());
  }
}

/// Numbers `batches` where the store numbers them; when it cannot, refuses them all.
bool number(task_store& store, std::vector<journaled_batch>& batches,
            std::vector<journal_promise>& promises) {
  if (batches.empty() || !store.numbers_batches())
    return true;
  auto err = store.number_batches(batches);
  if (!err)
    return true;
  for (auto& p : promises)
    p.deliver(err);
  batches.clear();
  promises.clear();
  return false;
}

/// Answers the batches that only wanted a number (the journal off, on a store that numbers them).
void number_unjournaled(store_state& st) {
  if (number(*st.store, st.unjournaled, st.unjournaled_promises))
    for (std::size_t i = 0; i < st.unjournaled.size(); ++i)
      st.unjournaled_promises[i].deliver(std::move(st.unjournaled[i]));
  st.unjournaled.clear();
  st.unjournaled_promises.clear();
}

/// Answers each chunk's requester: the tasks that passed, in order, and the failures.
void answer_chunks(std::vector<chunk_work>& group, std::vector<store_requester>& requesters,
                   std::vector<failure_chunk>& failed) {
  for (std::size_t r = 0; r < group.size(); ++r) {
    auto& work = group[r];
    // Tasks that pass stay in the chunk, compacted in place.
    auto& tasks = work.tasks;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      auto& t = tasks[i];
      auto& result = work.results[i];
      if (!result) {
        if (kept != i)
          tasks[kept] = std::move(t);
        ++kept;
      } else {
        failed[r].failures.push_back(task_failure{t.batch, t.index, t.update.id, work.where,
                                                  code_of(result), reason_of(result)});
      }
    }
    tasks.erase(tasks.begin() + static_cast<std::ptrdiff_t>(kept), tasks.end());
    requesters[r].promise.deliver(requesters[r].ticket, task_chunk{std::move(tasks)},
                                  std::move(failed[r]));
  }
}

/// Writes everything that arrived since the last flush (store_flush: one transaction where the
/// store can) and answers it: first the admitted batches (their tasks wait for the journal),
/// then the chunks, then the outcome records.
void flush(store_state& st) {
  auto& store = *st.store;
  number_unjournaled(st);
  store_flush work;
  auto journal_promises = std::move(st.journal_promises);
  st.journal_promises.clear();
  if (number(store, st.journal, journal_promises))
    work.journal = std::move(st.journal);
  st.journal.clear();
  auto group = std::move(st.pending);
  auto requesters = std::move(st.requesters);
  st.pending.clear();
  st.requesters.clear();
  std::vector<failure_chunk> failed(group.size());
  for (std::size_t r = 0; r < group.size(); ++r)
    refuse_closed(st, group[r], failed[r]);
  work.group = group;
  work.outcomes = std::move(st.outcomes);
  auto outcome_promises = std::move(st.outcome_promises);
  st.outcomes.clear();
  st.outcome_promises.clear();
  store.run_flush(work);
  answer_records(
    work.journal, journal_promises, work.journal_error,
    [&store](const std::vector<journaled_batch>& xs) { return store.journal(xs); },
    [](journal_promise& p, journaled_batch& b) { p.deliver(std::move(b)); });
  answer_chunks(group, requesters, failed);
  answer_records(
    work.outcomes, outcome_promises, work.outcomes_error,
    [&store](const std::vector<batch_outcome>& xs) { return store.record_outcomes(xs); },
    [](outcome_promise& p, batch_outcome&) { p.deliver(done_atom_v); });
}

/// Whether anything waits for a flush (one is then queued already).
bool flush_queued(const store_state& st) {
  return !st.pending.empty() || !st.journal.empty() || !st.unjournaled.empty()
         || !st.outcomes.empty();
}

using store_pointer = store_actor_impl::stateful_pointer<store_state>;

/// Queues the flush that writes what is pending, unless one is queued already: it runs behind
/// everything already waiting, so that one transaction takes it all (group commit).
void queue_flush(store_pointer self) {
  if (!flush_queued(self->state))
    self->send(self, caf::flush_atom_v);
}

/// Purges one slice of expired batches; the next slice queues behind whatever work arrived
/// meanwhile, the next round waits for the interval (a timer: the thread never sleeps).
void purge(store_pointer self) {
  auto more = self->state.store->purge_expired(self->state.cfg.purge_rows);
  if (more && *more)
    self->send(self, purge_atom_v);
  else // on an error too: the next round tries again
    self->delayed_send(self, self->state.cfg.purge_interval, purge_atom_v);
}

store_actor_impl::behavior_type store_behavior(store_pointer self,
                                               std::shared_ptr<task_store> store,
                                               store_actor_config cfg, store_actor linked_to) {
  self->state.store = std::move(store);
  self->state.cfg = cfg;
  if (linked_to)
    self->link_to(linked_to);
  for (auto& writer : cfg.stage_writers)
    self->link_to(writer);
  if (cfg.purge_interval.count() > 0)
    self->send(self, purge_atom_v);
  return {
    [self](stage where, std::uint64_t ticket, task_chunk& tasks) -> store_promise {
      auto promise = self->make_response_promise<std::uint64_t, task_chunk, failure_chunk>();
      auto& st = self->state;
      queue_flush(self);
      st.pending.push_back(chunk_work{where, std::move(tasks.tasks), {}});
      st.requesters.push_back({ticket, promise});
      return promise;
    },
    [self](get_atom, std::int64_t id) -> caf::result<stored_task> {
      auto found = self->state.store->find(id);
      if (found)
        return std::move(*found);
      if (code_of(found.error()) == failure_code::not_found)
        return stored_task{};
      return std::move(found.error()); // the store cannot tell: never "absent"
    },
    [self](get_atom) -> caf::result<store_counts> {
      auto counts = self->state.store->counts();
      if (counts)
        return *counts;
      return std::move(counts.error());
    },
    // Passed on to the stages' own writers, which refuse the batch's tasks from then on too.
    [self](cancel_atom, std::uint64_t batch) {
      self->state.closed.close(batch, failure_code::cancelled, self->clock().now());
      for (auto& writer : self->state.cfg.stage_writers)
        self->send(writer, cancel_atom_v, batch);
    },
    [self](expire_atom, std::uint64_t batch) {
      self->state.closed.close(batch, failure_code::timeout, self->clock().now());
      for (auto& writer : self->state.cfg.stage_writers)
        self->send(writer, expire_atom_v, batch);
    },
    [self](journal_atom, journaled_batch& b) -> journal_promise {
      auto& st = self->state;
      queue_flush(self);
      auto promise = self->make_response_promise<journaled_batch>();
      st.journal.push_back(std::move(b));
      st.journal_promises.push_back(promise);
      return promise;
    },
    [self](number_atom, journaled_batch& b) -> journal_promise {
      auto& st = self->state;
      queue_flush(self);
      auto promise = self->make_response_promise<journaled_batch>();
      st.unjournaled.push_back(std::move(b));
      st.unjournaled_promises.push_back(promise);
      return promise;
    },
    [self](outcome_atom, batch_outcome& o) -> outcome_promise {
      auto& st = self->state;
      queue_flush(self);
      auto promise = self->make_response_promise<done_atom>();
      st.outcomes.push_back(std::move(o));
      st.outcome_promises.push_back(promise);
      return promise;
    },
    [self](resume_atom) -> caf::result<resumable_batches> {
      auto found = self->state.store->unfinished_batches();
      if (found)
        return std::move(*found);
      return std::move(found.error());
    },
    [self](report_atom, std::uint64_t batch) -> caf::result<batch_report> {
      auto found = self->state.store->finished_report(batch);
      if (!found)
        return std::move(found.error());
      // Rendered here, on the store's thread: the coordinator only shares it.
      auto rendered = render_finished(std::move(*found));
      auto head = report_head(*rendered);
      head.finished = std::move(rendered);
      return head;
    },
    [self](failures_atom, std::uint64_t batch, std::int64_t after,
           std::uint64_t limit) -> caf::result<failure_page> {
      auto found = self->state.store->failures_after(batch, after, limit);
      if (found)
        return std::move(*found);
      return std::move(found.error());
    },
    [self](key_atom, const std::string& key) -> caf::result<std::uint64_t, std::string> {
      auto found = self->state.store->find_idempotency_key(key);
      if (!found)
        return std::move(found.error());
      return caf::make_result(found->batch, std::move(found->body_digest));
    },
    [self](caf::flush_atom) { flush(self->state); },
    [self](purge_atom) { purge(self); },
  };
}

} // namespace

std::chrono::milliseconds purge_interval_for(std::chrono::milliseconds retention) {
  return std::clamp<std::chrono::milliseconds>(retention / 4, std::chrono::seconds{1},
                                               std::chrono::minutes{5});
}

store_actor spawn_store_actor(caf::actor_system& sys, std::unique_ptr<task_store> store,
                              store_actor_config cfg, store_actor linked_to) {
  // spawn copies its arguments: hand the store over in a shared_ptr.
  bool blocking = store->blocks();
  std::shared_ptr<task_store> owned{std::move(store)};
  if (blocking)
    return sys.spawn<caf::detached>(store_behavior, std::move(owned), cfg, std::move(linked_to));
  return sys.spawn(store_behavior, std::move(owned), cfg, std::move(linked_to));
}

} // namespace taskpipe
