// The coordinator and the whole pipeline on the deterministic test scheduler (virtual time).
#include "actors/closed_batches.hpp"
#include "actors/id_set.hpp"
#include "test_node.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <vector>

using namespace taskpipe;
using namespace taskpipe::test;
using namespace std::chrono_literals;

namespace {

std::map<std::int64_t, task_failure> failures_by_id(const batch_report& r) {
  std::map<std::int64_t, task_failure> result;
  for (const auto& f : r.failures)
    result.emplace(f.id, f);
  return result;
}

} // namespace

TEST_CASE("an empty batch is done at once") {
  test_node t;
  auto r = t.submit(batch_request{});
  CHECK(r.state == batch_state::done);
  CHECK(r.total == 0);
  require_accounted(r);
}

TEST_CASE("one task goes through all four stages and is stored") {
  test_node t;
  auto r = t.submit(valid_batch(7, 7));
  require_accounted(r);
  CHECK(r.succeeded == 1);
  CHECK(r.batch_id.rfind("b-", 0) == 0);
  auto task = t.task(7);
  CHECK(task.type == "Epic");
  CHECK(task.summary == "Summary 7");
  CHECK(task.version == 2);
  auto rows = t.rows();
  CHECK(rows.audit_rows == 1);
  CHECK(rows.applied_updates == 1);
  CHECK(rows.outbox_rows == 1);
}

TEST_CASE("10000 tasks with mixed failures: every task ends exactly once") {
  test_node t{test_config(9'000)};
  batch_request req;
  std::map<std::int64_t, failure_code> expected;
  for (std::int64_t id = 1; id <= 10'000; ++id) {
    if (id > 9'000) {
      req.tasks.push_back(update(id, std::string{"Story"}, caf::none));
      expected[id] = failure_code::not_found;
    } else if (id % 101 == 0) {
      req.tasks.push_back(update(id, caf::none, caf::none));
      expected[id] = failure_code::empty_update;
    } else if (id % 103 == 0) {
      req.tasks.push_back(update(id, std::string{"story"}, std::string{"ok"}));
      expected[id] = failure_code::invalid_type;
    } else if (id % 107 == 0) {
      req.tasks.push_back(update(id, caf::none, std::string{"line\nbreak"}));
      expected[id] = failure_code::invalid_summary;
    } else {
      req.tasks.push_back(update(id, std::string{"TechTask"}, caf::none));
    }
  }
  // Repeats of ids 1..50 at the end: duplicate_in_batch, whatever the first one's fate.
  for (std::int64_t id = 1; id <= 50; ++id)
    req.tasks.push_back(update(id, caf::none, caf::none));
  auto r = t.submit(std::move(req));
  require_accounted(r);
  CHECK(r.total == 10'050);
  CHECK(r.failed == expected.size() + 50);
  std::set<std::uint32_t> positions;
  for (const auto& f : r.failures)
    positions.insert(f.index);
  CHECK(positions.size() == r.failures.size());  // no task reported twice
  for (std::size_t i = 1; i < r.failures.size(); ++i)
    CHECK(r.failures[i - 1].id <= r.failures[i].id);  // sorted by id
  std::size_t duplicates = 0;
  for (const auto& f : r.failures) {
    if (f.index >= 10'000) {
      CHECK(f.code == failure_code::duplicate_in_batch);
      ++duplicates;
      continue;
    }
    REQUIRE(expected.count(f.id) == 1);
    CHECK(f.code == expected[f.id]);
    CHECK(f.where == stage::validate);
    CHECK(!f.reason.empty());
  }
  CHECK(duplicates == 50);
  auto rows = t.rows();
  CHECK(rows.applied_updates == r.succeeded);
  CHECK(rows.outbox_rows == r.succeeded);
}

TEST_CASE("seed latency: the batch takes its slowest task's time / not the sum") {
  auto cfg = test_config(1'000);
  cfg.latency.mode = latency_model::kind::seed;
  test_node t{cfg};
  auto r = t.submit(valid_batch(1, 1'000));
  require_accounted(r);
  CHECK(r.succeeded == 1'000);
  // Virtual time: 4 stages x 500 ms for id % 5 == 0, and nothing waits for anything else.
  CHECK(r.elapsed_ms == Approx(2000.0));
}

TEST_CASE("a fast task is not held up by a slow one") {
  auto cfg = test_config(10);
  cfg.latency.mode = latency_model::kind::seed;
  test_node t{cfg};
  t.self->send(t.node.coordinator, start_atom_v, valid_batch(1, 10));
  t.run_for(401ms);
  t.self->receive([](batch_report&) {});
  // After 4 x 100 ms, the 8 fast tasks are done; ids 5 and 10 (500 ms per stage) are not.
  CHECK(t.node.metrics->tasks_in_flight.load() == 2);
  t.run_for(1'600ms);
  CHECK(t.node.metrics->tasks_in_flight.load() == 0);
}

TEST_CASE("the batch deadline fails unfinished tasks with timeout where they were") {
  auto cfg = test_config(10);
  cfg.latency = {latency_model::kind::fixed, 1'000};
  test_node t{cfg};
  auto req = valid_batch(1, 10);
  req.timeout_ms = 1'500;  // tasks are in Audit (1000..2000 ms) when it passes
  auto r = t.submit(std::move(req));
  require_accounted(r);
  CHECK(r.failed == 10);
  for (const auto& f : r.failures) {
    CHECK(f.code == failure_code::timeout);
    CHECK(f.where == stage::audit);
  }
  CHECK(r.elapsed_ms == Approx(1500.0));
  CHECK(t.rows().applied_updates == 0);
}

TEST_CASE("cancel fails tasks not yet handed to Update / the rest finish") {
  // "Handed to Update" is Update's store transaction (actors/closed_batches.hpp): tasks past it
  // finish; see the next test for tasks still waiting in Update's router.
  auto cfg = test_config(10);
  cfg.latency.mode = latency_model::kind::seed;
  test_node t{cfg};
  t.self->send(t.node.coordinator, start_atom_v, valid_batch(1, 10));
  std::string id;
  t.run_for(350ms);  // fast tasks are in Notify (300..400 ms), ids 5 and 10 in Validate
  t.self->receive([&](batch_report& r) { id = r.batch_id; });
  auto [status, err] = t.ask(cancel_atom_v, id);
  REQUIRE(status);
  CHECK(status->state == batch_state::cancelled);
  auto [final_status, err2] = t.ask(status_atom_v, id);
  REQUIRE(final_status);
  t.run_until([&] {
    auto [s, e] = t.ask(status_atom_v, id);
    return s && s->pending == 0;
  });
  auto [r, e3] = t.ask(status_atom_v, id);
  REQUIRE(r);
  require_accounted(*r);
  CHECK(r->state == batch_state::cancelled);
  CHECK(r->succeeded == 8);
  auto failures = failures_by_id(*r);
  REQUIRE(failures.size() == 2);
  for (auto slow : {5, 10}) {
    CHECK(failures[slow].code == failure_code::cancelled);
    CHECK(failures[slow].where == stage::validate);
  }
  CHECK(t.task(5).version == 1);
  CHECK(t.task(1).version == 2);
}

TEST_CASE("cancel fails tasks waiting in Update's router / before its store transaction") {
  auto cfg = test_config(10);
  cfg.latency.mode = latency_model::kind::seed;
  test_node t{cfg};
  t.self->send(t.node.coordinator, start_atom_v, valid_batch(1, 10));
  std::string id;
  t.run_for(250ms);  // fast tasks wait out Update's latency (200..300 ms): not applied yet
  t.self->receive([&](batch_report& r) { id = r.batch_id; });
  auto [status, err] = t.ask(cancel_atom_v, id);
  REQUIRE(status);
  t.run_until([&] {
    auto [s, e] = t.ask(status_atom_v, id);
    return s && s->pending == 0;
  });
  auto [r, e2] = t.ask(status_atom_v, id);
  REQUIRE(r);
  require_accounted(*r);
  CHECK(r->succeeded == 0);
  for (const auto& [task_id, f] : failures_by_id(*r)) {
    CHECK(f.code == failure_code::cancelled);
    CHECK(f.where == (task_id % 5 == 0 ? stage::validate : stage::update));
  }
  CHECK(t.rows().applied_updates == 0);
  CHECK(t.task(1).version == 1);
}

TEST_CASE("the store refuses a closed batch's work inside its transaction") {
  // A cancel or deadline that reaches the store before a chunk's transaction fails the chunk's
  // tasks there, whatever the routers knew when they passed it on.
  auto cfg = test_config(10);
  test_node t{cfg};
  std::uint64_t batch = 42;
  t.self->send(t.node.store, cancel_atom_v, batch);
  t.self->send(t.node.store, expire_atom_v, std::uint64_t{43});
  auto apply = [&](stage where, std::uint64_t b) {
    task_chunk chunk;
    chunk.tasks.push_back(task_envelope{b, 0, false, update(1, std::string{"Epic"}, "x")});
    t.self->send(t.node.store, where, std::uint64_t{7}, std::move(chunk));
    t.sched.run();
    failure_chunk failed;
    t.self->receive([&](std::uint64_t, task_chunk&, failure_chunk& f) { failed = std::move(f); });
    return failed;
  };
  for (auto where : {stage::validate, stage::audit, stage::update}) {
    auto f = apply(where, batch);
    REQUIRE(f.failures.size() == 1);
    CHECK(f.failures[0].code == failure_code::cancelled);
  }
  CHECK(!closes(failure_code::cancelled, stage::notify));  // a cancel stops before Update only
  auto expired = apply(stage::notify, 43);
  REQUIRE(expired.failures.size() == 1);
  CHECK(expired.failures[0].code == failure_code::timeout);
  CHECK(expired.failures[0].reason.find("the update was applied") != std::string::npos);
}

TEST_CASE("a worker that throws fails that task with internal and is replaced") {
  auto cfg = test_config(100);
  cfg.workers = 2;
  cfg.chunk_size = 8;
  cfg.faults = [](stage s, const task_envelope& e) {
    if (s == stage::audit && e.update.id == 42)
      throw std::runtime_error("injected bug");
  };
  test_node t{cfg};
  auto r = t.submit(valid_batch(1, 100));
  require_accounted(r);
  CHECK(r.succeeded == 99);
  REQUIRE(r.failures.size() == 1);
  CHECK(r.failures[0].id == 42);
  CHECK(r.failures[0].code == failure_code::internal);
  CHECK(r.failures[0].where == stage::audit);
  CHECK(r.failures[0].reason.find("injected bug") != std::string::npos);
  CHECK(t.node.metrics->workers_replaced.load() == 1);
  // The pool still works at full size afterwards.
  auto again = t.submit(valid_batch(1, 41));
  CHECK(again.succeeded == 41);
}

TEST_CASE("admission control: too large / overloaded / then admitted once there is room") {
  auto cfg = test_config(100);
  cfg.max_in_flight = 10;
  cfg.latency = {latency_model::kind::fixed, 100};
  test_node t{cfg};
  CHECK(t.refused(valid_batch(1, 11)) == refusal::batch_too_large);
  t.self->send(t.node.coordinator, start_atom_v, valid_batch(1, 6));
  t.sched.run();
  t.self->receive([](batch_report& r) { CHECK(r.pending == 6); });
  CHECK(t.refused(valid_batch(20, 25)) == refusal::overloaded);
  t.run_for(500ms);
  auto r = t.submit(valid_batch(20, 25));
  CHECK(r.succeeded == 6);
}

TEST_CASE("status and cancel of an unknown batch are refused") {
  test_node t;
  auto [r, err] = t.ask(status_atom_v, std::string{"b-0000000000000001"});
  refusal why{};
  CHECK(!r);
  REQUIRE(as_refusal(err, why));
  CHECK(why == refusal::unknown_batch);
  auto [r2, err2] = t.ask(cancel_atom_v, std::string{"not-a-batch"});
  CHECK(!r2);
  REQUIRE(as_refusal(err2, why));
  CHECK(why == refusal::unknown_batch);
}

TEST_CASE("drain finishes admitted batches / refuses new ones / then ends every actor") {
  auto cfg = test_config(100);
  cfg.latency = {latency_model::kind::fixed, 100};
  test_node t{cfg};
  t.self->send(t.node.coordinator, submit_atom_v, valid_batch(1, 50));
  t.sched.run();
  t.self->send(t.node.coordinator, drain_atom_v);
  t.sched.run();
  CHECK(t.refused(valid_batch(60, 61)) == refusal::shutting_down);
  bool report = false;
  bool drained = false;
  t.run_until([&] {
    t.self->receive([&](batch_report& r) {
                      require_accounted(r);
                      CHECK(r.succeeded == 50);
                      report = true;
                    },
                    [&](done_atom) {
                      CHECK(report);  // the report comes before drain's answer
                      drained = true;
                    },
                    caf::after(0s) >> [] {});
    return drained;
  });
  CHECK(report);
  CHECK(drained);
  t.drained = true;
  t.sched.run();
  // Every actor of the node has ended: only the test's own scoped actor remains.
  CHECK(t.sys.registry().running() <= 1);
}

TEST_CASE("id_set: repeated ids found, dense (a bitmap) or sparse (a hash), extremes included") {
  using limits = std::numeric_limits<std::int64_t>;
  auto [name, ids] = GENERATE(
    table<const char*, std::vector<std::int64_t>>({
      {"dense", {5, 6, 7, 5, 300, 6, 299, 300}},
      {"sparse", {1, 1'000'000'000'000, 1, -7, 1'000'000'000'000, -7, 3}},
      {"extremes", {limits::min(), limits::max(), 0, limits::min(), limits::max(), 0}},
      {"dense at the top", {limits::max(), limits::max() - 1, limits::max()}},
      {"dense at the bottom", {limits::min() + 1, limits::min(), limits::min()}},
    }));
  INFO(name);
  id_set seen{ids.size(), *std::min_element(ids.begin(), ids.end()),
              *std::max_element(ids.begin(), ids.end())};
  std::set<std::int64_t> expected;
  for (auto id : ids)
    CHECK(seen.insert(id) == expected.insert(id).second);
}
