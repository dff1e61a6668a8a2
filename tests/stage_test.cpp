// One stage pool on its own, with a fake next stage and failure aggregator.
#include "actors/chain.hpp"
#include "actors/failure_aggregator.hpp"
#include "actors/stage.hpp"
#include "actors/stats_actor.hpp"
#include "store/memory/memory_store.hpp"
#include "actors/store_actor.hpp"
#include "test_node.hpp"

using namespace taskpipe;
using namespace taskpipe::test;
using namespace std::chrono_literals;

namespace {

struct collected {
  std::vector<task_envelope> passed;
  std::vector<task_failure> failed;
};

stage_actor::behavior_type fake_next(stage_actor::pointer, std::shared_ptr<collected> out) {
  return {
    [out](task_chunk& c) {
      for (auto& t : c.tasks)
        out->passed.push_back(std::move(t));
    },
    [](cancel_atom, std::uint64_t) {},
    [](expire_atom, std::uint64_t) {},
  };
}

failure_aggregator_actor::behavior_type fake_failures(failure_aggregator_actor::pointer,
                                                      std::shared_ptr<collected> out) {
  return {
    [out](failure_chunk& c) {
      for (auto& f : c.failures)
        out->failed.push_back(std::move(f));
    },
    [](get_atom) { return failure_counts{}; },
  };
}

struct stage_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{testing_config(cfg)};
  caf::scheduler::test_coordinator& sched{
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())};
  std::shared_ptr<collected> out = std::make_shared<collected>();
  std::shared_ptr<pipeline_metrics> metrics = std::make_shared<pipeline_metrics>();
  std::shared_ptr<stage_counters> counters = std::make_shared<stage_counters>();
  store_actor store;
  stage_actor next;
  failure_aggregator_actor failures;
  stage_actor stage_under_test;

  explicit stage_fixture(stage which, latency_model latency, fault_injector faults = {}) {
    auto memory = make_memory_store();
    memory->seed(100);
    store = spawn_store_actor(sys, std::move(memory));
    next = sys.spawn(fake_next, out);
    failures = sys.spawn(fake_failures, out);
    stage_config sc;
    sc.which = which;
    sc.workers = 3;
    sc.chunk_size = 4;
    sc.latency = latency;
    sc.next = next;
    sc.failures = failures;
    sc.store = store;
    sc.metrics = metrics;
    sc.faults = std::move(faults);
    sc.counters = counters;
    stage_under_test = spawn_stage(sys, sc);
    sched.run();
  }

  ~stage_fixture() {
    for (auto h : {caf::actor_cast<caf::actor>(stage_under_test), caf::actor_cast<caf::actor>(next),
                   caf::actor_cast<caf::actor>(failures), caf::actor_cast<caf::actor>(store)})
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void send(std::uint64_t batch, std::int64_t first, std::int64_t last) {
    task_chunk chunk;
    for (auto id = first; id <= last; ++id)
      chunk.tasks.push_back(task_envelope{batch, static_cast<std::uint32_t>(id), false,
                                          update(id, std::string{"Epic"}, std::string{"x"})});
    caf::anon_send(stage_under_test, std::move(chunk));
  }

  void run_for(std::chrono::milliseconds d) {
    sched.run();
    for (auto i = 0; i < d.count(); ++i) {
      sched.advance_time(1ms);
      sched.run();
    }
  }
};

} // namespace

TEST_CASE("a stage holds each task for its own latency / with no head-of-line blocking") {
  stage_fixture f{stage::audit, latency_model{latency_model::kind::seed, 0}};
  f.send(1, 1, 10);
  f.run_for(99ms);
  CHECK(f.out->passed.empty());
  f.run_for(2ms);
  CHECK(f.out->passed.size() == 8);  // every id but 5 and 10
  f.run_for(400ms);
  CHECK(f.out->passed.size() == 10);
  CHECK(f.out->failed.empty());
  CHECK(f.metrics->stages[1].succeeded.load() == 10);
}

TEST_CASE("validate fails bad requests and unknown ids / and forwards the rest") {
  stage_fixture f{stage::validate, latency_model{}};
  task_chunk chunk;
  chunk.tasks.push_back(task_envelope{1, 0, false, update(1, std::string{"Epic"}, caf::none)});
  chunk.tasks.push_back(task_envelope{1, 1, false, update(2, caf::none, caf::none)});
  chunk.tasks.push_back(task_envelope{1, 2, false, update(500, std::string{"Epic"}, caf::none)});
  chunk.tasks.push_back(task_envelope{1, 3, true, update(1, std::string{"Epic"}, caf::none)});
  caf::anon_send(f.stage_under_test, std::move(chunk));
  f.sched.run();
  REQUIRE(f.out->passed.size() == 1);
  CHECK(f.out->passed[0].update.id == 1);
  REQUIRE(f.out->failed.size() == 3);
  std::map<std::uint32_t, failure_code> codes;
  for (const auto& x : f.out->failed)
    codes[x.index] = x.code;
  CHECK(codes[1] == failure_code::empty_update);
  CHECK(codes[2] == failure_code::not_found);
  CHECK(codes[3] == failure_code::duplicate_in_batch);
}

TEST_CASE("cancel and expire drop the held tasks of that batch only") {
  stage_fixture f{stage::validate, latency_model{latency_model::kind::fixed, 100}};
  f.send(1, 1, 5);
  f.send(2, 6, 10);
  f.run_for(50ms);
  caf::anon_send(f.stage_under_test, cancel_atom_v, std::uint64_t{1});
  f.sched.run();
  CHECK(f.out->failed.size() == 5);
  for (const auto& x : f.out->failed)
    CHECK((x.batch == 1 && x.code == failure_code::cancelled && x.where == stage::validate));
  f.send(1, 11, 12);  // stragglers of a cancelled batch fail on arrival
  f.sched.run();
  CHECK(f.out->failed.size() == 7);
  f.run_for(60ms);
  CHECK(f.out->passed.size() == 5);  // batch 2 unaffected
  f.send(3, 20, 21);
  f.sched.run();
  caf::anon_send(f.stage_under_test, expire_atom_v, std::uint64_t{3});
  f.sched.run();
  REQUIRE(f.out->failed.size() == 9);
  CHECK(f.out->failed.back().code == failure_code::timeout);
}

TEST_CASE("cancel applies in Update until its store transaction / not in Notify") {
  // Update's router still holds the tasks (their latency has not passed): not applied, cancelled.
  stage_fixture update{stage::update, latency_model{latency_model::kind::fixed, 100}};
  update.send(1, 1, 3);
  update.run_for(50ms);
  caf::anon_send(update.stage_under_test, cancel_atom_v, std::uint64_t{1});
  update.run_for(60ms);
  CHECK(update.out->passed.empty());
  REQUIRE(update.out->failed.size() == 3);
  for (const auto& x : update.out->failed) {
    CHECK(x.code == failure_code::cancelled);
    CHECK(x.where == stage::update);
  }
  // In Notify the update was applied: a cancel changes nothing.
  stage_fixture notify{stage::notify, latency_model{latency_model::kind::fixed, 100}};
  notify.send(1, 1, 3);
  notify.run_for(50ms);
  caf::anon_send(notify.stage_under_test, cancel_atom_v, std::uint64_t{1});
  notify.run_for(60ms);
  CHECK(notify.out->failed.empty());
  CHECK(notify.out->passed.size() == 3);
}

TEST_CASE("a throwing worker fails only its task / and the pool keeps its size") {
  int throws = 0;
  stage_fixture f{stage::notify, latency_model{},
                  [&](stage, const task_envelope& t) {
                    if (t.update.id == 3 || t.update.id == 7) {
                      ++throws;
                      throw std::logic_error("boom");
                    }
                  }};
  f.send(1, 1, 20);
  f.sched.run();
  CHECK(throws == 2);
  CHECK(f.out->passed.size() == 18);
  REQUIRE(f.out->failed.size() == 2);
  for (const auto& x : f.out->failed) {
    CHECK(x.code == failure_code::internal);
    CHECK(x.where == stage::notify);
  }
  CHECK(f.metrics->workers_replaced.load() == 2);
  f.send(2, 21, 40);
  f.sched.run();
  CHECK(f.out->passed.size() == 38);
}

namespace {

/// Records the failure chunks a coordinator would receive.
outcome_sink_actor::behavior_type fake_coordinator(outcome_sink_actor::pointer,
                                                   std::shared_ptr<std::vector<failure_chunk>> out) {
  return {
    [](completion_chunk&) {},
    [out](failure_chunk& c) { out->push_back(std::move(c)); },
  };
}

} // namespace

TEST_CASE("the failure aggregator groups failures by batch and counts them by stage and code") {
  caf::actor_system_config cfg;
  caf::actor_system sys{testing_config(cfg)};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto received = std::make_shared<std::vector<failure_chunk>>();
  auto coordinator = sys.spawn(fake_coordinator, received);
  auto aggregator = spawn_failure_aggregator(sys, coordinator);
  auto failure = [](std::uint64_t batch, stage where, failure_code code) {
    return task_failure{batch, 0, 1, where, code, "why"};
  };
  caf::anon_send(aggregator, failure_chunk{{failure(1, stage::validate, failure_code::not_found),
                                            failure(2, stage::notify, failure_code::storage_error),
                                            failure(1, stage::validate, failure_code::not_found)}});
  caf::anon_send(aggregator, failure_chunk{{failure(3, stage::audit, failure_code::timeout)}});
  sched.run();
  REQUIRE(received->size() == 3);  // batches 1 and 2 split apart, batch 3 whole
  std::map<std::uint64_t, std::size_t> per_batch;
  for (const auto& c : *received) {
    for (const auto& f : c.failures)
      CHECK(f.batch == c.failures.front().batch);
    per_batch[c.failures.front().batch] += c.failures.size();
  }
  CHECK(per_batch == std::map<std::uint64_t, std::size_t>{{1, 2}, {2, 1}, {3, 1}});
  caf::scoped_actor self{sys};
  self->send(aggregator, get_atom_v);
  sched.run();
  self->receive([](failure_counts& counts) {
    auto at = [&](stage s, failure_code c) {
      return counts.by_stage_and_code[static_cast<std::size_t>(s) * failure_code_count
                                      + static_cast<std::size_t>(c)];
    };
    CHECK(at(stage::validate, failure_code::not_found) == 2);
    CHECK(at(stage::notify, failure_code::storage_error) == 1);
    CHECK(at(stage::audit, failure_code::timeout) == 1);
    CHECK(at(stage::update, failure_code::internal) == 0);
  });
  caf::anon_send_exit(aggregator, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE("the dashboard's counters: tasks held, done, failed, latency, workers") {
  stage_fixture f{stage::validate, latency_model{latency_model::kind::fixed, 100}};
  f.send(1, 1, 8);
  task_chunk unknown;
  unknown.tasks.push_back(task_envelope{1, 9, false, update(500, std::string{"Epic"}, caf::none)});
  caf::anon_send(f.stage_under_test, std::move(unknown));
  f.run_for(50ms);
  auto r = f.counters->read();
  CHECK(r.waiting == 9);  // all still waiting out their 100 ms
  CHECK(r.done == 0);
  CHECK(r.workers.size() == 3);
  f.run_for(60ms);
  r = f.counters->read();
  CHECK(r.waiting == 0);
  CHECK(r.ready == 0);
  CHECK(r.queued_chunks == 0);
  CHECK(r.done == 8);
  CHECK(r.failed == 1);  // not_found
  std::uint64_t held = 0;
  std::uint64_t by_workers = 0;
  for (const auto& w : r.workers) {
    held += w.held;
    by_workers += w.done;
  }
  CHECK(held == 0);
  CHECK(by_workers == 8);
  // 100 ms on the test clock: every task in the bucket [2^16, 2^17) us.
  std::uint64_t observed = 0;
  for (auto n : r.latency)
    observed += n;
  CHECK(observed == 9);
  CHECK(r.latency[17] == 9);
  auto p50 = latency_quantile_ms(r.latency, 0.5);
  REQUIRE(p50.has_value());
  CHECK(*p50 > 65.5);
  CHECK(*p50 < 131.1);
  // A cancelled batch's tasks fail in the router: counted too.
  f.send(2, 10, 11);
  f.sched.run();
  caf::anon_send(f.stage_under_test, cancel_atom_v, std::uint64_t{2});
  f.sched.run();
  r = f.counters->read();
  CHECK(r.failed == 3);
  CHECK(r.waiting == 0);
}

TEST_CASE("the dashboard's counters keep a replaced worker's totals") {
  stage_fixture f{stage::audit, latency_model{},
                  [](stage, const task_envelope& t) {
                    if (t.update.id == 3)
                      throw std::runtime_error{"boom"};
                  }};
  f.send(1, 1, 4);
  f.sched.run();
  f.send(1, 5, 8);
  f.sched.run();
  auto r = f.counters->read();
  CHECK(r.workers.size() == 3);  // the thrower was replaced
  CHECK(r.done == 7);
  CHECK(r.failed == 1);
}

TEST_CASE("latency quantiles interpolate inside a bucket") {
  std::array<std::uint64_t, latency_bucket_count> h{};
  CHECK(!latency_quantile_ms(h, 0.5).has_value());
  h[11] = 100;  // [1024, 2048) us
  auto p50 = latency_quantile_ms(h, 0.5);
  REQUIRE(p50.has_value());
  CHECK(*p50 == Approx(1.536));
  h[20] = 1;  // one slow task: p99 stays in the big bucket, p100 reaches the slow one
  CHECK(*latency_quantile_ms(h, 0.99) < 2.048);
  CHECK(*latency_quantile_ms(h, 1.0) > 524.0);
}

namespace {

outcome_sink_actor::behavior_type counting_sink(outcome_sink_actor::pointer,
                                                std::shared_ptr<std::size_t> completed) {
  return {
    [completed](completion_chunk& c) { *completed += c.tasks.size(); },
    [](failure_chunk&) {},
  };
}

} // namespace

TEST_CASE("a chain's stages store through their own writers where given / the others through the store") {
  caf::actor_system_config cfg;
  caf::actor_system sys{testing_config(cfg)};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto seeded_store = [&sys] {
    auto memory = make_memory_store();
    memory->seed(100);
    return spawn_store_actor(sys, std::move(memory));
  };
  local_stage_options local;
  local.workers = 2;
  local.chunk_size = 4;
  local.metrics = std::make_shared<pipeline_metrics>();
  local.store = seeded_store();
  auto& audit_writer = local.writers[static_cast<std::size_t>(stage::audit)];
  auto& notify_writer = local.writers[static_cast<std::size_t>(stage::notify)];
  audit_writer = seeded_store();
  notify_writer = seeded_store();
  auto out = std::make_shared<collected>();
  auto completed = std::make_shared<std::size_t>(0);
  chain_outputs outputs;
  outputs.coordinator = sys.spawn(counting_sink, completed);
  outputs.failures = sys.spawn(fake_failures, out);
  auto chain = spawn_chain(sys, {std::begin(all_stages), std::end(all_stages)}, local, {},
                           stage_actor{}, outputs);
  sched.run();
  task_chunk chunk;
  for (std::int64_t id = 1; id <= 10; ++id)
    chunk.tasks.push_back(task_envelope{1, static_cast<std::uint32_t>(id), false,
                                        update(id, std::string{"Epic"}, std::string{"x"})});
  caf::anon_send(chain.front(), std::move(chunk));
  for (int i = 0; i < 1000 && *completed < 10; ++i) {
    sched.run();
    sched.advance_time(1ms);
  }
  sched.run();
  CHECK(*completed == 10);
  CHECK(out->failed.empty());
  caf::scoped_actor self{sys};
  auto rows_of = [&](const store_actor& store) {
    store_counts result;
    self->send(store, get_atom_v);
    sched.run();
    self->receive([&](store_counts& c) { result = c; });
    return result;
  };
  auto main_rows = rows_of(local.store);
  auto audit_rows = rows_of(audit_writer);
  auto notify_rows = rows_of(notify_writer);
  // Audit's rows only in its writer, Notify's only in its own, Update's (none given) in the store.
  CHECK(audit_rows.audit_rows == 10);
  CHECK(audit_rows.applied_updates + audit_rows.outbox_rows == 0);
  CHECK(notify_rows.outbox_rows == 10);
  CHECK(notify_rows.audit_rows + notify_rows.applied_updates == 0);
  CHECK(main_rows.applied_updates == 10);
  CHECK(main_rows.audit_rows + main_rows.outbox_rows == 0);
  for (auto& entry : chain)
    caf::anon_send_exit(entry, caf::exit_reason::user_shutdown);
  for (auto h : {caf::actor_cast<caf::actor>(outputs.coordinator),
                 caf::actor_cast<caf::actor>(outputs.failures), caf::actor_cast<caf::actor>(local.store),
                 caf::actor_cast<caf::actor>(audit_writer), caf::actor_cast<caf::actor>(notify_writer)})
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  sched.run();
}
