// A fake coordinator and store for testing the HTTP front without the pipeline: every batch
// finishes after a fixed delay; ids above `known_tasks` fail with not_found; admission refuses past
// `max_in_flight`. They implement the interfaces the front talks to, typed:
// coordinator_client_actor and task_reader_actor.
#pragma once

#include "actors/interfaces.hpp"
#include "actors/type_ids.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <vector>

namespace taskpipe::test {

struct fake_config {
  std::chrono::milliseconds delay{0};
  std::int64_t known_tasks = 100;
  std::uint64_t max_in_flight = 1'000'000;
};

struct fake_batch {
  batch_report report;
  bool finished = false;
  std::vector<caf::typed_response_promise<batch_report>> waiters;
  std::chrono::steady_clock::time_point started;
};

struct fake_coordinator_state {
  fake_config cfg;
  std::map<std::uint64_t, fake_batch> batches;
  std::uint64_t next = 1;
  std::uint64_t in_flight = 0;
  std::uint64_t done = 0;
  std::uint64_t cancelled = 0;
  bool draining = false;
  std::vector<caf::typed_response_promise<done_atom>> drainers;
};

/// The client interface plus the fake's own timer: a batch's delay is over.
using fake_coordinator_actor =
  coordinator_client_actor::extend<caf::reacts_to<expire_atom, std::uint64_t>>;

using fake_coordinator_pointer = fake_coordinator_actor::stateful_pointer<fake_coordinator_state>;

inline void fake_check_drained(fake_coordinator_pointer self) {
  auto& st = self->state;
  if (!st.draining || st.in_flight > 0)
    return;
  for (auto& p : st.drainers)
    p.deliver(done_atom_v);
  st.drainers.clear();
  self->quit();
}

inline void fake_finish(fake_coordinator_pointer self, std::uint64_t n) {
  auto& st = self->state;
  auto i = st.batches.find(n);
  if (i == st.batches.end() || i->second.finished)
    return;
  auto& b = i->second;
  b.finished = true;
  auto& r = b.report;
  st.in_flight -= r.pending;
  r.pending = 0;
  if (r.state == batch_state::cancelled)
    ++st.cancelled;
  else {
    r.state = batch_state::done;
    ++st.done;
  }
  r.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now()
                                                           - b.started)
                   .count();
  for (auto& w : b.waiters)
    w.deliver(r);
  b.waiters.clear();
  fake_check_drained(self);
}

inline caf::expected<std::uint64_t> fake_admit(fake_coordinator_pointer self,
                                               batch_request& req) {
  auto& st = self->state;
  if (st.draining)
    return caf::make_error(refusal::shutting_down, "the node is draining");
  if (st.in_flight + req.tasks.size() > st.cfg.max_in_flight)
    return caf::make_error(refusal::overloaded, "admitting " + std::to_string(req.tasks.size())
                                             + " tasks would pass --max-in-flight");
  auto n = st.next++;
  auto& b = st.batches[n];
  b.started = std::chrono::steady_clock::now();
  auto& r = b.report;
  r.batch_id = batch_id_text(n);
  r.total = req.tasks.size();
  std::uint32_t index = 0;
  for (auto& t : req.tasks) {
    if (t.id > st.cfg.known_tasks) {
      task_failure f;
      f.batch = n;
      f.index = index;
      f.id = t.id;
      f.where = stage::validate;
      f.code = failure_code::not_found;
      f.reason = "task " + std::to_string(t.id) + " does not exist";
      r.failures.push_back(std::move(f));
    }
    ++index;
  }
  r.failed = r.failures.size();
  r.succeeded = r.total - r.failed;
  r.pending = r.total;
  st.in_flight += r.total;
  if (r.total == 0 || st.cfg.delay.count() == 0)
    self->send(self, expire_atom_v, n);
  else
    self->delayed_send(self, st.cfg.delay, expire_atom_v, n);
  return n;
}

inline batch_report fake_status(const batch_report& r) {
  auto copy = r;
  if (copy.state == batch_state::running || copy.pending > 0) {
    copy.failures.clear();
    copy.succeeded = 0;
    copy.failed = 0;
  }
  return copy;
}

inline fake_coordinator_actor::behavior_type fake_coordinator_impl(fake_coordinator_pointer self,
                                                                   fake_config cfg) {
  self->state.cfg = cfg;
  return {
    [self](submit_atom, batch_request& req) -> caf::result<batch_report> {
      auto promise = self->make_response_promise<batch_report>();
      auto n = fake_admit(self, req);
      if (!n)
        promise.deliver(std::move(n.error()));
      else
        self->state.batches[*n].waiters.push_back(promise);
      return promise;
    },
    [self](start_atom, batch_request& req) -> caf::result<batch_report> {
      auto n = fake_admit(self, req);
      if (!n)
        return std::move(n.error());
      return fake_status(self->state.batches[*n].report);
    },
    [self](status_atom, const std::string& text) -> caf::result<batch_report> {
      std::uint64_t n = 0;
      if (!parse_batch_id(text, n) || self->state.batches.count(n) == 0)
        return caf::make_error(refusal::unknown_batch, "no batch " + text);
      return fake_status(self->state.batches[n].report);
    },
    [self](failures_atom, const std::string& text, std::int64_t after,
           std::uint64_t limit) -> caf::result<failure_page> {
      std::uint64_t n = 0;
      if (!parse_batch_id(text, n) || self->state.batches.count(n) == 0)
        return caf::make_error(refusal::unknown_batch, "no batch " + text);
      auto rendered = render_finished(fake_status(self->state.batches[n].report));
      auto range = rendered->page(after, limit);
      failure_page p;
      p.batch_id = rendered->batch_id;
      p.report = rendered;
      p.first = range.first;
      p.last = range.last;
      p.more = range.more;
      p.next = range.next;
      return p;
    },
    [self](cancel_atom, const std::string& text) -> caf::result<batch_report> {
      std::uint64_t n = 0;
      if (!parse_batch_id(text, n) || self->state.batches.count(n) == 0)
        return caf::make_error(refusal::unknown_batch, "no batch " + text);
      auto& r = self->state.batches[n].report;
      if (r.pending > 0)
        r.state = batch_state::cancelled;
      return fake_status(r);
    },
    [self](drain_atom) -> caf::result<done_atom> {
      auto promise = self->make_response_promise<done_atom>();
      self->state.draining = true;
      self->state.drainers.push_back(promise);
      fake_check_drained(self);
      return promise;
    },
    [self](stats_atom) -> caf::result<std::uint64_t, std::uint64_t, std::uint64_t> {
      return {self->state.in_flight, self->state.done, self->state.cancelled};
    },
    [self](expire_atom, std::uint64_t n) { fake_finish(self, n); },
  };
}

inline coordinator_client_actor spawn_fake_coordinator(caf::actor_system& sys, fake_config cfg) {
  return sys.spawn(fake_coordinator_impl, cfg);
}

inline task_reader_actor::behavior_type fake_store_impl(task_reader_actor::pointer,
                                                        std::int64_t known_tasks) {
  return {
    [known_tasks](get_atom, std::int64_t id) -> stored_task {
      if (id < 1 || id > known_tasks)
        return {};
      return {id, "Story", "Task " + std::to_string(id), 1, "2026-01-01T00:00:00.000Z"};
    },
  };
}

inline task_reader_actor spawn_fake_store(caf::actor_system& sys, std::int64_t known_tasks) {
  return sys.spawn(fake_store_impl, known_tasks);
}

} // namespace taskpipe::test
