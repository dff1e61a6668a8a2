// The coordinator: admission, each task's first outcome, deadlines, cancellation, drain. What it
// answers about batches (reports, pages, the cache of finished reports) is in
// coordinator_reports.cpp; the state both share is coordinator_state.hpp.
#include "actors/coordinator.hpp"

#include "actors/batch_resume.hpp"
#include "actors/coordinator_state.hpp"
#include "actors/failure_aggregator.hpp"
#include "actors/id_set.hpp"
#include "store/task_store.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace taskpipe {

namespace coordination {

void shutdown(coordinator_pointer self) {
  auto& st = self->state;
  for (auto& s : st.stages)
    self->send_exit(s, caf::exit_reason::user_shutdown);
  self->send_exit(st.aggregator, caf::exit_reason::user_shutdown);
  self->send_exit(st.store, caf::exit_reason::user_shutdown);
  for (auto& waiter : st.drain_waiters)
    waiter.deliver(done_atom_v);
  self->quit();
}

batch_record* find_batch(coordinator_pointer self, const std::string& text) {
  std::uint64_t id = 0;
  if (!parse_batch_id(text, id))
    return nullptr;
  auto i = self->state.batches.find(id);
  // A batch not started yet has not been answered: nobody knows its number (or it is provisional).
  return i == self->state.batches.end() || !i->second.launched ? nullptr : &i->second;
}

namespace {

/// Drops the Idempotency-Key of an abandoned batch `id` from memory.
void forget_key(coordinator_pointer self, std::uint64_t id) {
  auto& st = self->state;
  auto i = st.batches.find(id);
  if (i != st.batches.end() && !i->second.idempotency_key.empty())
    st.keys.erase(i->second.idempotency_key);
}

/// Completes `b` once every task has its outcome (complete_batch answers it; with the journal
/// off at once, and then `b` is gone).
void finish_if_done(coordinator_pointer self, batch_record& b) {
  if (b.pending() != 0 || b.complete)
    return;
  auto& st = self->state;
  b.complete = true;
  b.finished = self->clock().now();
  if (b.cancelled) {
    ++st.batches_cancelled;
    st.metrics->batches_cancelled.fetch_add(1, std::memory_order_relaxed);
  } else {
    ++st.batches_done;
    st.metrics->batches_done.fetch_add(1, std::memory_order_relaxed);
  }
  b.ids = {};
  b.outcomes = {};
  complete_batch(self, b);
}

/// Records one task's outcome unless it already has one. Returns whether it was recorded.
bool record(coordinator_pointer self, batch_record& b, std::uint32_t index, outcome o) {
  if (index >= b.outcomes.size() || b.outcomes[index] != outcome::pending)
    return false;
  b.outcomes[index] = o;
  (o == outcome::succeeded ? b.succeeded : b.failed) += 1;
  --self->state.in_flight;
  return true;
}

void publish_in_flight(coordinator_pointer self) {
  self->state.metrics->tasks_in_flight.store(self->state.in_flight, std::memory_order_relaxed);
}

/// Tells every stage and the store that a batch is cancelled or expired (`Atom`): its tasks fail
/// wherever they are, up to the cut-off (actors/closed_batches.hpp).
template <class Atom>
void close_batch(coordinator_pointer self, Atom what, std::uint64_t id) {
  for (auto& s : self->state.stages)
    self->send(s, what, id);
  self->send(self->state.store, what, id);
}

/// Sends `chunk` to Validate, if it holds anything.
void flush_chunk(coordinator_pointer self, task_chunk& chunk) {
  if (chunk.tasks.empty())
    return;
  self->send(self->state.stages.front(), std::move(chunk));
  chunk.tasks.clear();
}

/// Adds `t` to `chunk`, sending the chunk to Validate once it is full; `left` tasks (t included)
/// are still to come, so that a small batch's chunk does not reserve a whole chunk's room.
void send_chunked(coordinator_pointer self, task_chunk& chunk, task_envelope t, std::size_t left) {
  if (chunk.tasks.empty())
    chunk.tasks.reserve(std::min(self->state.cfg.chunk_size, left));
  chunk.tasks.push_back(std::move(t));
  if (chunk.tasks.size() >= self->state.cfg.chunk_size)
    flush_chunk(self, chunk);
}

/// The dashboard's bookkeeping of an admission.
void note_admitted(dashboard_book& book, std::uint64_t id, std::uint64_t tasks) {
  book.accepted += tasks;
  book.recent.push_back(id);
  if (book.recent.size() > dashboard_book::recent_batches)
    book.recent.pop_front();
}

/// Creates the record of batch `id` with `n` tasks, started at `started`, and counts it running.
batch_record& open_batch(coordinator_pointer self, std::uint64_t id, std::size_t n,
                         clock_time started, std::chrono::milliseconds timeout) {
  auto& st = self->state;
  auto& b = st.batches[id];
  b.id = id;
  b.total = n;
  b.outcomes.assign(n, outcome::pending);
  b.started = started;
  b.timeout = timeout;
  note_admitted(st.book, id, n);
  b.admitted_ms = unix_now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(
                                    self->clock().now() - started)
                                    .count();
  ++st.running;
  st.in_flight += n;
  publish_in_flight(self);
  return b;
}

/// Arms the batch's deadline: `timeout` after it started (a resumed batch started before the
/// restart).
void arm_deadline(coordinator_pointer self, batch_record& b) {
  auto left = b.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                            self->clock().now() - b.started);
  self->delayed_send(self, std::max(left, std::chrono::milliseconds{0}), expire_atom_v, b.id);
}

/// Admits a batch: checks limits, assigns its number and counts its tasks in flight. Its tasks
/// start with start_batch (after its journal write, see batch_journal.hpp).
caf::expected<batch_record*> admit(coordinator_pointer self, std::size_t n,
                                   std::chrono::milliseconds timeout) {
  auto& st = self->state;
  if (st.draining)
    return caf::make_error(refusal::shutting_down, "the node is shutting down");
  if (n > st.cfg.max_in_flight)
    return caf::make_error(refusal::batch_too_large,
                      fmt::format("the batch has {} tasks; at most {} can ever be in flight", n,
                                  st.cfg.max_in_flight));
  if (st.in_flight + n > st.cfg.max_in_flight)
    return caf::make_error(refusal::overloaded,
                      fmt::format("{} tasks in flight; admitting {} more would pass the limit "
                                  "of {}",
                                  st.in_flight, n, st.cfg.max_in_flight));
  auto id = st.cfg.store_numbers ? st.next_provisional++ : ++st.last_batch;
  return &open_batch(self, id, n, self->clock().now(), timeout);
}

/// Sends the tasks of an admitted batch to Validate in chunks, marking repeated ids, and arms its
/// deadline.
void start_batch(coordinator_pointer self, batch_record& b, std::vector<task_update>& tasks) {
  b.launched = true;
  auto n = tasks.size();
  b.ids.reserve(n);
  auto lowest = std::numeric_limits<std::int64_t>::max();
  auto highest = std::numeric_limits<std::int64_t>::min();
  for (const auto& u : tasks) {
    lowest = std::min(lowest, u.id);
    highest = std::max(highest, u.id);
  }
  id_set seen{n, lowest, highest};
  task_chunk chunk;
  for (std::size_t i = 0; i < n; ++i) {
    auto& u = tasks[i];
    b.ids.push_back(u.id);
    bool duplicate = !seen.insert(u.id);
    task_envelope t{b.id, static_cast<std::uint32_t>(i), duplicate, std::move(u)};
    send_chunked(self, chunk, std::move(t), n - i);
  }
  flush_chunk(self, chunk);
  if (n == 0)
    finish_if_done(self, b);
  else
    arm_deadline(self, b);
}

/// The deadline of a batch that asks for `timeout_ms` (0: the node's default).
std::chrono::milliseconds timeout_of(coordinator_pointer self, const batch_request& req) {
  return req.timeout_ms > 0 ? std::chrono::milliseconds{req.timeout_ms}
                            : self->state.cfg.batch_timeout;
}

/// Forgets an admitted batch that could not be journaled (`why`): none of its tasks started.
void abandon(coordinator_pointer self, std::uint64_t id, const caf::error& why) {
  auto& st = self->state;
  auto i = st.batches.find(id);
  if (i == st.batches.end())
    return;
  --st.running;
  st.in_flight -= i->second.total;
  publish_in_flight(self);
  forget_key(self, id);
  for (auto& retry : i->second.early)
    retry.first.deliver(why);
  st.batches.erase(i);
  if (st.draining && st.running == 0)
    shutdown(self);
}

/// Gives the admitted batch known by the provisional number `from` the number `to` the store
/// gave it (before anyone learns its number: it has not started).
batch_record& renumber(coordinator_pointer self, std::uint64_t from, std::uint64_t to) {
  auto& st = self->state;
  auto node = st.batches.extract(from);
  node.key() = to;
  node.mapped().id = to;
  auto& b = st.batches.insert(std::move(node)).position->second;
  if (!b.idempotency_key.empty())
    st.keys[b.idempotency_key] = to;
  std::replace(st.book.recent.begin(), st.book.recent.end(), from, to);
  st.last_batch = std::max(st.last_batch, to);
  return b;
}

/// Admits `req` and starts its tasks, then calls `started(id)`; with the journal (cfg.journal)
/// only once the store holds the batch durably. `refused(error)` instead when it is refused or
/// cannot be journaled. One round trip to the store per batch: its tasks travel there as one
/// message and come back in the answer (moved, not copied).
template <class Started, class Refused>
void admit_and_start(coordinator_pointer self, batch_request& req, Started started,
                     Refused refused) {
  auto& st = self->state;
  auto timeout = timeout_of(self, req);
  auto admitted = admit(self, req.tasks.size(), timeout);
  if (!admitted)
    return refused(std::move(admitted.error()));
  auto& b = **admitted;
  if (!req.idempotency_key.empty()) {
    b.idempotency_key = req.idempotency_key;
    b.body_digest = req.body_digest;
    st.keys.emplace(b.idempotency_key, b.id);
  }
  if (!st.cfg.journal && !st.cfg.store_numbers) {
    auto id = b.id;
    start_batch(self, b, req.tasks); // an empty batch is answered (and gone) in there
    return started(id);
  }
  // Journaled and/or numbered by the store first.
  journaled_batch entry{st.cfg.store_numbers ? 0 : b.id, b.admitted_ms,
                        b.admitted_ms + timeout.count(), std::move(req.idempotency_key),
                        std::move(req.body_digest), std::move(req.tasks)};
  auto id = b.id;
  const char* what = st.cfg.journal ? "the batch could not be journaled: "
                                    : "the batch could not be numbered: ";
  auto on_refused = [self, id, refused, what](caf::error& err) mutable {
    auto why = storage_error(std::string{what} + reason_of(err));
    abandon(self, id, why);
    refused(std::move(why));
  };
  auto on_admitted = [self, id, started, on_refused](journaled_batch& entry) mutable {
    auto& st = self->state;
    auto i = st.batches.find(id);
    if (i == st.batches.end())
      return;
    auto* b = &i->second;
    if (st.cfg.store_numbers) {
      if (entry.batch == 0 || st.batches.count(entry.batch) != 0) {
        caf::error err = storage_error("the store gave it number " + batch_id_text(entry.batch)
                                       + ", which is taken");
        return on_refused(err);
      }
      b = &renumber(self, id, entry.batch);
    }
    auto number = b->id;
    auto early = std::exchange(b->early, {});
    start_batch(self, *b, entry.tasks); // an empty batch is answered (and gone) in there
    started(number);
    for (auto& [promise, wait] : early)
      answer_started(self, number, promise, wait);
  };
  if (st.cfg.journal)
    self->request(st.store, caf::infinite, journal_atom_v, std::move(entry))
      .then(on_admitted, on_refused);
  else
    self->request(st.store, caf::infinite, number_atom_v, std::move(entry))
      .then(on_admitted, on_refused);
}

/// Resumes one unfinished batch of the journal (see batch_resume.hpp).
void resume_batch(coordinator_pointer self, resumable_batch& r) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto now_ms = unix_now_ms();
  auto n = r.admitted.tasks.size();
  auto down_for = std::chrono::milliseconds{std::max<std::int64_t>(0, now_ms - r.admitted.admitted_ms)};
  auto timeout = std::chrono::milliseconds{r.admitted.deadline_ms - r.admitted.admitted_ms};
  auto& b = open_batch(self, r.admitted.batch, n, now - down_for, timeout);
  st.last_batch = std::max(st.last_batch, b.id); // the store's last_batch() counts the journal
  b.launched = true;
  b.admitted_ms = r.admitted.admitted_ms;
  b.cancelled = r.cancelled;
  if (!r.admitted.idempotency_key.empty()) {
    b.idempotency_key = r.admitted.idempotency_key;
    b.body_digest = r.admitted.body_digest;
    st.keys.emplace(b.idempotency_key, b.id);
  }
  auto plan = plan_resume(r, now_ms);
  b.ids = std::move(plan.ids);
  for (auto index : plan.succeeded)
    record(self, b, index, outcome::succeeded);
  for (auto& f : plan.failures) {
    st.metrics->count(f.where, false, 1);
    if (record(self, b, f.index, outcome::failed))
      b.failures.push_back(std::move(f));
  }
  if (b.cancelled)
    close_batch(self, cancel_atom_v, b.id);
  task_chunk chunk;
  for (std::size_t i = 0; i < plan.to_run.size(); ++i)
    send_chunked(self, chunk, std::move(plan.to_run[i]), plan.to_run.size() - i);
  flush_chunk(self, chunk);
  publish_in_flight(self);
  if (b.pending() == 0)
    finish_if_done(self, b);
  else
    arm_deadline(self, b);
}

/// POST /v1/batches: admits `req` and answers with its report (`wait`) or its status once it
/// started. With an Idempotency-Key the node has seen (in memory, else in the store), answers the
/// batch it names instead (422 for another body).
void submit(coordinator_pointer self, batch_request& req, bool wait, report_promise promise) {
  auto& st = self->state;
  auto started = [self, promise, wait](std::uint64_t id) mutable {
    answer_started(self, id, promise, wait);
  };
  auto refused = [promise](caf::error err) mutable { promise.deliver(std::move(err)); };
  if (req.idempotency_key.empty())
    return admit_and_start(self, req, started, refused);
  if (auto i = st.keys.find(req.idempotency_key); i != st.keys.end())
    if (answer_known_key(self, i->second, req.body_digest, wait, promise))
      return;
  if (!st.cfg.journal)
    return admit_and_start(self, req, started, refused);
  auto held = std::make_shared<batch_request>(std::move(req));
  self->request(st.store, caf::infinite, key_atom_v, held->idempotency_key)
    .then(
      [self, held, wait, promise, started, refused](std::uint64_t owner,
                                                    std::string& digest) mutable {
        auto& st = self->state;
        auto& key = held->idempotency_key;
        if (auto i = st.keys.find(key); i != st.keys.end()) // admitted meanwhile
          if (answer_known_key(self, i->second, held->body_digest, wait, promise))
            return;
        if (owner == 0)
          return admit_and_start(self, *held, started, refused);
        if (digest != held->body_digest) {
          promise.deliver(key_reused(key));
          return;
        }
        // Not in memory: finished (unfinished batches are resumed at start-up).
        answer_stored_key(self, owner, wait, promise);
      },
      [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
}

} // namespace

coordinator_impl::behavior_type coordinator(coordinator_pointer self, coordinator_config cfg,
                                            chain_factory build_chain, store_actor store,
                                            std::shared_ptr<pipeline_metrics> metrics) {
  auto& st = self->state;
  st.cfg = cfg;
  st.last_batch = cfg.last_batch;
  st.metrics = std::move(metrics);
  st.store = std::move(store);
  init_reports(self);
  st.aggregator = spawn_failure_aggregator(self->system(), self);
  st.stages = build_chain(self->system(), chain_outputs{self, st.aggregator});
  return {
    [self](submit_atom, batch_request& req) -> report_promise {
      auto promise = self->make_response_promise<batch_report>();
      submit(self, req, true, promise);
      return promise;
    },
    [self](start_atom, batch_request& req) -> report_promise {
      auto promise = self->make_response_promise<batch_report>();
      submit(self, req, false, promise);
      return promise;
    },
    [self](status_atom, const std::string& text) -> caf::result<batch_report> {
      return status_of(self, text);
    },
    [self](failures_atom, const std::string& text, std::int64_t after,
           std::uint64_t limit) -> caf::result<failure_page> {
      return failures_of(self, text, after, limit);
    },
    [self](cancel_atom, const std::string& text) -> caf::result<batch_report> {
      auto b = find_batch(self, text);
      if (b == nullptr) // finished (deleting it changes nothing), or unknown
        return status_of(self, text);
      auto promise = self->make_response_promise<batch_report>();
      if (b->pending() == 0 || b->cancelled) {
        deliver_report(self, *b, promise);
        return promise;
      }
      b->cancelled = true;
      close_batch(self, cancel_atom_v, b->id);
      if (!self->state.cfg.journal) {
        deliver_report(self, *b, promise);
        return promise;
      }
      // Answered once the cancel is recorded, so that a restart does not run the batch on after
      // the client was told it is cancelled.
      auto answer = [self, promise, id = b->id, text]() mutable {
        if (!answer_held(self, id, promise)) // a batch that ran a moment ago is held
          promise.deliver(unknown_batch(text));
      };
      self->request(self->state.store, caf::infinite, outcome_atom_v,
                    batch_outcome{b->id, batch_state::cancelled, 0, 0, 0, {}})
        .then([answer](done_atom) mutable { answer(); },
              [answer](caf::error&) mutable { answer(); });
      return promise;
    },
    [self](drain_atom) -> caf::typed_response_promise<done_atom> {
      auto& st = self->state;
      auto promise = self->make_response_promise<done_atom>();
      st.draining = true;
      st.drain_waiters.push_back(promise);
      if (st.running == 0)
        shutdown(self);
      return promise;
    },
    [self](resume_atom) -> caf::result<std::uint64_t> {
      auto promise = self->make_response_promise<std::uint64_t>();
      self->request(self->state.store, caf::infinite, resume_atom_v)
        .then(
          [self, promise](resumable_batches& found) mutable {
            for (auto& r : found.batches)
              if (self->state.batches.count(r.admitted.batch) == 0)
                resume_batch(self, r);
            promise.deliver(static_cast<std::uint64_t>(found.batches.size()));
          },
          [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
      return promise;
    },
    [self](stats_atom) {
      auto& st = self->state;
      return caf::make_result(st.in_flight, st.batches_done, st.batches_cancelled);
    },
    [self](stats_atom, get_atom) { return make_overview(self); },
    [self](completion_chunk& chunk) {
      auto& st = self->state;
      batch_record* b = nullptr;
      for (const auto& ref : chunk.tasks) {
        if (b == nullptr || b->id != ref.batch) {
          if (b != nullptr)
            finish_if_done(self, *b);
          auto i = st.batches.find(ref.batch);
          b = i == st.batches.end() ? nullptr : &i->second;
          if (b == nullptr)
            continue;
        }
        // Its outbox row is written, so it succeeded, even past the deadline: the store
        // refuses an expired batch's work, so this transaction began before the deadline
        // reached the store.
        record(self, *b, ref.index, outcome::succeeded);
      }
      if (b != nullptr)
        finish_if_done(self, *b);
      publish_in_flight(self);
    },
    [self](failure_chunk& chunk) {
      auto& st = self->state;
      if (chunk.failures.empty())
        return;
      auto i = st.batches.find(chunk.failures.front().batch);
      if (i == st.batches.end())
        return;
      auto& b = i->second;
      auto first = b.failures.size();
      for (auto& f : chunk.failures)
        if (record(self, b, f.index, outcome::failed))
          b.failures.push_back(std::move(f));
      note_failures(st.book, b.failures, first);
      finish_if_done(self, b);
      publish_in_flight(self);
    },
    [self](expire_atom, std::uint64_t id) {
      auto& st = self->state;
      auto i = st.batches.find(id);
      if (i == st.batches.end() || i->second.pending() == 0)
        return;
      close_batch(self, expire_atom_v, id);
      if (st.cfg.stage_hosts)
        self->delayed_send(self, deadline_grace, expire_atom_v, id, true);
    },
    [self](expire_atom, std::uint64_t id, bool) {
      // Locally, every task is held by a stage or on its way to one, and each reports its
      // closed batch's tasks: nothing is left for this sweep. Across nodes, a task still without
      // an outcome now is on a stage host that has not answered: it may have been applied there.
      auto& st = self->state;
      auto i = st.batches.find(id);
      if (i == st.batches.end() || i->second.pending() == 0)
        return;
      auto& b = i->second;
      auto first = b.failures.size();
      std::uint64_t lost = 0;
      for (std::uint32_t index = 0; index < b.outcomes.size(); ++index)
        if (record(self, b, index, outcome::failed)) {
          b.failures.push_back(task_failure{b.id, index, b.ids[index], stage::pipeline,
                                            failure_code::node_lost,
                                            "batch deadline passed and the stage host holding "
                                            "the task has not answered (the update may have "
                                            "been applied there)"});
          ++lost;
        }
      st.metrics->count(stage::pipeline, false, lost);
      note_failures(st.book, b.failures, first);
      finish_if_done(self, b);
      publish_in_flight(self);
    },
  };
}

} // namespace coordination

coordinator_actor spawn_coordinator(caf::actor_system& sys, coordinator_config cfg,
                                    chain_factory build_chain, store_actor store,
                                    std::shared_ptr<pipeline_metrics> metrics) {
  return sys.spawn(coordination::coordinator, cfg, std::move(build_chain), std::move(store), std::move(metrics));
}

} // namespace taskpipe
