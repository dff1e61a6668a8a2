// A whole node on CAF's deterministic test scheduler: virtual time, no threads (memory store).
#pragma once

#include "actors/pipeline.hpp"
#include "actors/type_ids.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace taskpipe::test {

inline caf::actor_system_config& testing_config(caf::actor_system_config& cfg) {
  register_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  return cfg;
}

/// A pipeline_config for tests: memory store seeded with ids 1..seed, zero latency, 2 workers.
inline pipeline_config test_config(std::int64_t seed = 100) {
  pipeline_config cfg;
  cfg.store = store_kind::memory;
  cfg.seed_tasks = seed;
  cfg.workers = 2;
  return cfg;
}

inline task_update update(std::int64_t id, caf::optional<std::string> type,
                          caf::optional<std::string> summary) {
  return task_update{id, std::move(type), std::move(summary)};
}

/// Updates for ids first..last that all pass Validate.
inline batch_request valid_batch(std::int64_t first, std::int64_t last) {
  batch_request req;
  for (auto id = first; id <= last; ++id)
    req.tasks.push_back(update(id, std::string{"Epic"}, "Summary " + std::to_string(id)));
  return req;
}

/// A coordinator's answer with the failures of its rendered report read back into `failures`
/// (what the tests check), so that the rendering is checked as well.
inline batch_report with_failures(batch_report r) {
  std::uint64_t batch = 0;
  if (r.finished && parse_batch_id(r.batch_id, batch))
    r.failures = r.finished->failures(batch);
  return r;
}

struct test_node {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  pipeline node;

  explicit test_node(const pipeline_config& pc = test_config())
    : sys(testing_config(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys) {
    node = spawn_pipeline(sys, pc);
    sched.run();
  }

  ~test_node() {
    drain();
  }

  /// Runs every job; fires timers in virtual time order until `done()` or nothing is left.
  void run_until(const std::function<bool()>& done) {
    for (;;) {
      sched.run();
      if (done())
        return;
      if (!sched.has_pending_timeout())
        return;
      sched.trigger_timeout();
    }
  }

  /// Runs the scheduler for `d` of virtual time.
  void run_for(std::chrono::milliseconds d) {
    sched.run();
    for (auto i = 0; i < d.count(); ++i) {
      sched.advance_time(std::chrono::milliseconds{1});
      sched.run();
    }
  }

  /// Sends `msg` to the coordinator and runs until the answer arrives: the report or an error.
  template <class... Ts>
  std::pair<std::optional<batch_report>, caf::error> ask(Ts&&... xs) {
    self->send(node.coordinator, std::forward<Ts>(xs)...);
    std::optional<batch_report> report;
    caf::error err;
    bool answered = false;
    run_until([&] {
      self->receive([&](batch_report& r) { report = with_failures(std::move(r)); answered = true; },
                    [&](caf::error& e) { err = std::move(e); answered = true; },
                    caf::after(std::chrono::seconds{0}) >> [] {});
      return answered;
    });
    return {std::move(report), std::move(err)};
  }

  /// Submits and waits (in virtual time) for the final report.
  batch_report submit(batch_request req) {
    auto [report, err] = ask(submit_atom_v, std::move(req));
    REQUIRE(!err);
    REQUIRE(report);
    return *report;
  }

  refusal refused(batch_request req) {
    auto [report, err] = ask(submit_atom_v, std::move(req));
    REQUIRE(!report);
    refusal r{};
    REQUIRE(as_refusal(err, r));
    return r;
  }

  store_counts rows() {
    store_counts result;
    self->send(node.store, get_atom_v);
    sched.run();
    self->receive([&](store_counts& c) { result = c; });
    return result;
  }

  stored_task task(std::int64_t id) {
    stored_task result;
    self->send(node.store, get_atom_v, id);
    sched.run();
    self->receive([&](stored_task& t) { result = t; });
    return result;
  }

  /// Drains the coordinator (once) so every actor ends.
  bool drained = false;
  void drain() {
    if (drained)
      return;
    drained = true;
    self->send(node.coordinator, drain_atom_v);
    run_until([&] {
      bool done = false;
      self->receive([&](done_atom) { done = true; }, [&](caf::error&) { done = true; },
                    caf::after(std::chrono::seconds{0}) >> [] {});
      return done;
    });
    sched.run();
  }
};

/// Every task of the batch has exactly one outcome.
inline void require_accounted(const batch_report& r) {
  REQUIRE(r.pending == 0);
  REQUIRE(r.succeeded + r.failed == r.total);
  REQUIRE(r.failures.size() == r.failed);
}

} // namespace taskpipe::test
