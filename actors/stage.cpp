#include "actors/stage.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>

// The dashboard's counters (actors/stage_counters.hpp) can be compiled out (-DTASKPIPE_STAGE_COUNTERS=0)
// so that bench/pipeline_bench.sh measures what they cost.
#ifndef TASKPIPE_STAGE_COUNTERS
#define TASKPIPE_STAGE_COUNTERS 1
#endif

namespace taskpipe {

namespace {

constexpr bool with_counters = TASKPIPE_STAGE_COUNTERS != 0;

using clock_time = caf::actor_clock::time_point;

/// The router is a stage that also hears from its own workers and its latency timer.
using router_actor = stage_actor::extend<
  // A worker finished the chunk with this ticket (its credit returns).
  caf::reacts_to<done_atom, std::uint64_t>,
  // A worker hit a bug; replace it (it finishes what it holds, then quits).
  caf::reacts_to<retire_atom>,
  // The latency timer.
  caf::reacts_to<caf::tick_atom>>;

// -- worker --------------------------------------------------------------------------------------

struct worker_state {
  stage_config cfg;
  router_actor router;
  std::size_t awaiting_store = 0;  ///< chunks handed to the store and not answered yet
  bool retiring = false;           ///< hit a bug: finish what is held, then quit
  std::shared_ptr<worker_counters> counters;  ///< may be null
  static inline const char* name = "stage_worker";
};

/// A stage's worker; internal to the stage, so its interface lives here.
using worker_actor = caf::typed_actor<
  // A chunk from the router, tagged with its ticket.
  caf::reacts_to<std::uint64_t, task_chunk>,
  // The store's answer for a ticket: what passed, what failed.
  caf::reacts_to<std::uint64_t, task_chunk, failure_chunk>>;

using worker_pointer = worker_actor::stateful_pointer<worker_state>;

void send_failures(worker_pointer self, failure_chunk& failed) {
  if (failed.failures.empty())
    return;
  self->state.cfg.metrics->count(self->state.cfg.which, false, failed.failures.size());
  self->send(self->state.cfg.failures, std::move(failed));
}

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

void finish_ticket(worker_pointer self, std::uint64_t ticket) {
  self->send(self->state.router, done_atom_v, ticket);
  if (self->state.retiring && self->state.awaiting_store == 0)
    self->quit();
}

worker_actor::behavior_type stage_worker(worker_pointer self, stage_config cfg,
                                         router_actor router,
                                         std::shared_ptr<worker_counters> counters) {
  self->state.cfg = std::move(cfg);
  self->state.router = std::move(router);
  self->state.counters = std::move(counters);
  return {
    // A chunk from the router: the stage's own checks, then the store.
    [self](std::uint64_t ticket, task_chunk& chunk) {
      auto& st = self->state;
      auto* counters = st.counters.get();
      if (counters != nullptr)
        counters->take(chunk.tasks.size());
      failure_chunk failed;
      // Tasks that pass stay in `chunk`, compacted in place: no copy when all pass.
      std::size_t kept = 0;
      for (std::size_t i = 0; i < chunk.tasks.size(); ++i) {
        auto& t = chunk.tasks[i];
        try {
          if (st.cfg.faults)
            st.cfg.faults(st.cfg.which, t);
          if (st.cfg.which == stage::validate) {
            if (auto failure = check_request(t)) {
              failed.failures.push_back(std::move(*failure));
              continue;
            }
          }
          if (kept != i)
            chunk.tasks[kept] = std::move(t);
          ++kept;
        } catch (...) {
          // A bug in the stage: this task fails, and the worker, whose state is suspect now,
          // is replaced once it has finished what it holds.
          failed.failures.push_back(task_failure{t.batch, t.index, t.update.id, st.cfg.which,
                                                 failure_code::internal,
                                                 fmt::format("{} worker failed on this task: {}",
                                                             to_string(st.cfg.which),
                                                             describe(std::current_exception()))});
          st.retiring = true;
        }
      }
      chunk.tasks.erase(chunk.tasks.begin() + static_cast<std::ptrdiff_t>(kept), chunk.tasks.end());
      auto& passed = chunk;
      if (st.retiring)
        self->send(st.router, retire_atom_v);
      if (counters != nullptr) {
        counters->failed.add(failed.failures.size());
        counters->release(failed.failures.size(), passed.tasks.empty());
      }
      send_failures(self, failed);
      if (passed.tasks.empty()) {
        finish_ticket(self, ticket);
        return;
      }
      ++st.awaiting_store;
      self->send(st.cfg.store, st.cfg.which, ticket, std::move(passed));
    },
    // The store's answer: forward what passed and what failed, then return the credit.
    [self](std::uint64_t ticket, task_chunk& passed, failure_chunk& failed) {
      auto& st = self->state;
      --st.awaiting_store;
      if (auto* counters = st.counters.get()) {
        counters->done.add(passed.tasks.size());
        counters->failed.add(failed.failures.size());
        counters->release(passed.tasks.size() + failed.failures.size(), true);
      }
      send_failures(self, failed);
      if (!passed.tasks.empty()) {
        st.cfg.metrics->count(st.cfg.which, true, passed.tasks.size());
        if (st.cfg.next) {
          self->send(st.cfg.next, std::move(passed));
        } else {
          completion_chunk done;
          done.tasks.reserve(passed.tasks.size());
          for (const auto& t : passed.tasks)
            done.tasks.push_back(task_ref{t.batch, t.index});
          self->send(st.cfg.coordinator, std::move(done));
        }
      }
      finish_ticket(self, ticket);
    },
  };
}

// -- router --------------------------------------------------------------------------------------

/// What the router remembers of a task it handed to a worker.
struct held_task {
  std::uint64_t batch;
  std::uint32_t index;
  std::int64_t id;
  clock_time released;  ///< when its latency ended
};

struct ticket_record {
  caf::actor_addr worker;
  std::vector<held_task> tasks;
};

struct ready_block {
  std::vector<task_envelope> tasks;
  clock_time released;  ///< when their latency ended
};

struct worker_slot {
  worker_actor handle;
  std::size_t outstanding = 0;
  bool retired = false;
  std::shared_ptr<worker_counters> counters;  ///< null without the stage's counters
};

struct router_state {
  stage_config cfg;
  delay_queue waiting;
  /// Tasks whose latency has passed, in blocks as they arrived or were released together: a
  /// block moves to a worker whole when it fits a chunk, with no per-task work.
  std::deque<ready_block> ready;
  std::size_t ready_count = 0;
  std::vector<worker_slot> workers;
  std::size_t next_worker = 0;
  std::uint64_t next_ticket = 1;
  std::unordered_map<std::uint64_t, ticket_record> tickets;
  std::multiset<clock_time> armed;  ///< due times of the latency timers in flight
  closed_batches closed;  ///< cancelled or expired batches
  static inline const char* name = "stage_router";
};

using router_pointer = router_actor::stateful_pointer<router_state>;

void spawn_worker(router_pointer self) {
  auto& st = self->state;
  auto counters = st.cfg.counters ? st.cfg.counters->add_worker() : nullptr;
  auto worker = self->system().spawn(stage_worker, st.cfg, router_actor{self}, counters);
  self->monitor(worker);
  st.workers.push_back(worker_slot{worker, 0, false, std::move(counters)});
}

worker_slot* find_slot(router_state& st, const caf::actor_addr& addr) {
  for (auto& slot : st.workers)
    if (slot.handle.address() == addr)
      return &slot;
  return nullptr;
}

void fail_tasks(router_pointer self, std::vector<task_failure> failures) {
  if (failures.empty())
    return;
  if (auto& counters = self->state.cfg.counters)
    counters->refused.add(failures.size());
  self->state.cfg.metrics->count(self->state.cfg.which, false, failures.size());
  self->send(self->state.cfg.failures, failure_chunk{std::move(failures)});
}

/// Moves up to chunk_size ready tasks into `chunk`, whole blocks where they fit.
void take_ready(router_state& st, task_chunk& chunk, ticket_record& record) {
  while (!st.ready.empty() && chunk.tasks.size() < st.cfg.chunk_size) {
    auto& block = st.ready.front();
    auto room = st.cfg.chunk_size - chunk.tasks.size();
    auto first = chunk.tasks.size();
    if (chunk.tasks.empty() && block.tasks.size() <= room) {
      chunk.tasks = std::move(block.tasks);
    } else {
      auto n = std::min(room, block.tasks.size());
      auto from = block.tasks.end() - static_cast<std::ptrdiff_t>(n);
      std::move(from, block.tasks.end(), std::back_inserter(chunk.tasks));
      block.tasks.erase(from, block.tasks.end());
    }
    for (auto i = first; i < chunk.tasks.size(); ++i) {
      const auto& t = chunk.tasks[i];
      record.tasks.push_back(held_task{t.batch, t.index, t.update.id, block.released});
    }
    st.ready_count -= chunk.tasks.size() - first;
    if (block.tasks.empty())
      st.ready.pop_front();
  }
}

/// Hands ready tasks to workers with credit left, one chunk each, round robin.
void dispatch_ready(router_pointer self) {
  auto& st = self->state;
  while (st.ready_count > 0) {
    worker_slot* slot = nullptr;
    for (std::size_t i = 0; i < st.workers.size() && slot == nullptr; ++i) {
      auto& candidate = st.workers[(st.next_worker + i) % st.workers.size()];
      if (!candidate.retired && candidate.outstanding < st.cfg.credit)
        slot = &candidate;
    }
    if (slot == nullptr)
      return;
    st.next_worker = (st.next_worker + 1) % st.workers.size();
    task_chunk chunk;
    ticket_record record{slot->handle.address(), {}};
    record.tasks.reserve(std::min(st.cfg.chunk_size, st.ready_count));
    take_ready(st, chunk, record);
    auto ticket = st.next_ticket++;
    st.tickets.emplace(ticket, std::move(record));
    ++slot->outstanding;
    self->send(slot->handle, ticket, std::move(chunk));
  }
}

/// Publishes the router's gauges (three stores, once per message) for the dashboard.
void publish_counters(router_state& st) {
  if (auto* counters = st.cfg.counters.get()) {
    counters->waiting.set(st.waiting.size());
    counters->ready.set(st.ready_count);
    counters->queued_chunks.set(st.tickets.size());
  }
}

/// Hands out what is ready, then publishes the gauges.
void dispatch(router_pointer self) {
  dispatch_ready(self);
  publish_counters(self->state);
}

void make_ready(router_state& st, std::vector<task_envelope> tasks, clock_time released) {
  if (tasks.empty())
    return;
  st.ready_count += tasks.size();
  st.ready.push_back(ready_block{std::move(tasks), released});
}

/// Arms the latency timer for the earliest waiting task unless one is already due by then.
void arm_timer(router_pointer self) {
  auto& st = self->state;
  if (st.waiting.empty())
    return;
  auto due = st.waiting.next_due();
  if (!st.armed.empty() && *st.armed.begin() <= due)
    return;
  st.armed.insert(due);
  auto now = self->clock().now();
  self->delayed_send(self, due > now ? due - now : caf::timespan{0}, caf::tick_atom_v);
}

void accept(router_pointer self, task_chunk& chunk) {
  auto& st = self->state;
  auto now = self->clock().now();
  bool pass_whole = true;
  for (const auto& t : chunk.tasks)
    pass_whole = pass_whole && st.cfg.latency.delay(t.update.id).count() == 0
                 && (st.closed.empty() || st.closed.find(t.batch, st.cfg.which) == nullptr);
  if (pass_whole) {  // the common case without latency: no per-task work
    make_ready(st, std::move(chunk.tasks), now);
    dispatch(self);
    return;
  }
  std::vector<task_failure> refused;
  std::vector<task_envelope> ready_now;
  // Tasks that wait, grouped by their delay (the seed model has two): one queue entry each.
  std::vector<std::pair<caf::timespan, std::vector<task_envelope>>> waiting;
  for (auto& t : chunk.tasks) {
    if (auto code = st.closed.find(t.batch, st.cfg.which)) {
      refused.push_back(task_failure{t.batch, t.index, t.update.id, st.cfg.which, *code,
                                     closed_reason(st.cfg.which, *code)});
      continue;
    }
    caf::timespan delay = st.cfg.latency.delay(t.update.id);
    if (delay.count() == 0) {
      ready_now.push_back(std::move(t));
      continue;
    }
    auto group = std::find_if(waiting.begin(), waiting.end(),
                              [&](const auto& g) { return g.first == delay; });
    if (group == waiting.end())
      group = waiting.insert(waiting.end(), {delay, {}});
    group->second.push_back(std::move(t));
  }
  for (auto& [delay, tasks] : waiting)
    st.waiting.push(std::move(tasks), now, delay);
  make_ready(st, std::move(ready_now), now);
  fail_tasks(self, std::move(refused));
  arm_timer(self);
  dispatch(self);
}

/// Fails every task of `batch` this router holds (waiting or ready) and remembers the batch, so
/// that its tasks still on their way here fail on arrival.
void close_batch(router_pointer self, std::uint64_t batch, failure_code code) {
  auto& st = self->state;
  bool was_closed = st.closed.find(batch, st.cfg.which) != nullptr;
  st.closed.close(batch, code, self->clock().now());
  if (was_closed || st.closed.find(batch, st.cfg.which) == nullptr)
    return;
  std::vector<task_envelope> dropped;
  st.waiting.take_batch(batch, dropped);
  for (auto& block : st.ready) {
    auto keep = std::stable_partition(block.tasks.begin(), block.tasks.end(),
                                      [&](const auto& t) { return t.batch != batch; });
    std::move(keep, block.tasks.end(), std::back_inserter(dropped));
    st.ready_count -= static_cast<std::size_t>(block.tasks.end() - keep);
    block.tasks.erase(keep, block.tasks.end());
  }
  std::erase_if(st.ready, [](const ready_block& b) { return b.tasks.empty(); });
  std::vector<task_failure> failures;
  failures.reserve(dropped.size());
  for (const auto& t : dropped)
    failures.push_back(task_failure{t.batch, t.index, t.update.id, st.cfg.which, code,
                                    closed_reason(st.cfg.which, code)});
  fail_tasks(self, std::move(failures));
  publish_counters(st);
}

router_actor::behavior_type stage_router(router_pointer self, stage_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  if constexpr (!with_counters)
    st.cfg.counters = nullptr;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, st.cfg.workers); ++i)
    spawn_worker(self);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto slot = find_slot(st, msg.source);
    if (slot == nullptr)
      return;
    bool was_retired = slot->retired;
    // Tasks the worker still held are failed, never silently dropped.
    std::vector<task_failure> lost;
    for (auto i = st.tickets.begin(); i != st.tickets.end();) {
      if (i->second.worker != msg.source) {
        ++i;
        continue;
      }
      for (const auto& h : i->second.tasks)
        lost.push_back(task_failure{h.batch, h.index, h.id, st.cfg.which, failure_code::internal,
                                    fmt::format("{} worker died while holding this task: {}",
                                                to_string(st.cfg.which), to_string(msg.reason))});
      i = st.tickets.erase(i);
    }
    fail_tasks(self, std::move(lost));
    if (st.cfg.counters)
      st.cfg.counters->remove_worker(slot->counters);
    st.workers.erase(st.workers.begin() + (slot - st.workers.data()));
    if (!was_retired) {
      st.cfg.metrics->workers_replaced.fetch_add(1, std::memory_order_relaxed);
      spawn_worker(self);
    }
    dispatch(self);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& slot : self->state.workers)
      self->send_exit(slot.handle, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [self](task_chunk& chunk) { accept(self, chunk); },
    [self](cancel_atom, std::uint64_t batch) {
      close_batch(self, batch, failure_code::cancelled);
    },
    [self](expire_atom, std::uint64_t batch) { close_batch(self, batch, failure_code::timeout); },
    [self](done_atom, std::uint64_t ticket) {
      auto& st = self->state;
      auto i = st.tickets.find(ticket);
      if (i == st.tickets.end())
        return;
      auto now = self->clock().now();
      // Tasks released together with the same delay have the same latency: one observation
      // per run of them (one per chunk without latency), not one per task.
      const auto& tasks = i->second.tasks;
      for (std::size_t first = 0; first < tasks.size();) {
        auto delay = st.cfg.latency.delay(tasks[first].id);
        auto last = first + 1;
        while (last < tasks.size() && tasks[last].released == tasks[first].released
               && st.cfg.latency.delay(tasks[last].id) == delay)
          ++last;
        auto spent = now - tasks[first].released + delay;
        auto n = static_cast<std::uint64_t>(last - first);
        st.cfg.metrics->observe_latency(st.cfg.which,
                                        std::chrono::duration<double>(spent).count(), n);
        if (auto* counters = st.cfg.counters.get())
          counters->observe(static_cast<std::uint64_t>(
                              std::chrono::duration_cast<std::chrono::microseconds>(spent).count()),
                            n);
        first = last;
      }
      if (auto slot = find_slot(st, i->second.worker))
        --slot->outstanding;
      st.tickets.erase(i);
      dispatch(self);
    },
    [self](retire_atom) {
      auto& st = self->state;
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (auto slot = find_slot(st, sender); slot != nullptr && !slot->retired) {
        slot->retired = true;
        st.cfg.metrics->workers_replaced.fetch_add(1, std::memory_order_relaxed);
        spawn_worker(self);
        dispatch(self);
      }
    },
    [self](caf::tick_atom) {
      auto& st = self->state;
      if (!st.armed.empty())
        st.armed.erase(st.armed.begin());
      auto now = self->clock().now();
      std::vector<std::vector<task_envelope>> due;
      st.waiting.pop_due(now, due);
      for (auto& tasks : due)
        make_ready(st, std::move(tasks), now);
      arm_timer(self);
      dispatch(self);
    },
  };
}

} // namespace

stage_actor spawn_stage(caf::actor_system& sys, stage_config cfg) {
  return sys.spawn(stage_router, std::move(cfg));
}

} // namespace taskpipe
