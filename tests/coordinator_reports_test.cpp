// What the coordinator answers about finished batches: one rendered report shared by every
// reader, a bounded cache with the rest read back from the store, pages of failures, retention.
#include "test_node.hpp"

#include <thread>

using namespace taskpipe;
using namespace taskpipe::test;
using namespace std::chrono_literals;

namespace {

/// Updates of ids first..last on a node seeded with 1..10: ids above 10 fail not_found.
batch_request failing_batch(std::int64_t first, std::int64_t last) {
  return valid_batch(first, last);
}

/// Asks the coordinator for a page of `id`'s failures.
std::pair<std::optional<failure_page>, caf::error> page(test_node& t, const std::string& id,
                                                        std::int64_t after, std::uint64_t limit) {
  t.self->send(t.node.coordinator, failures_atom_v, id, after, limit);
  std::optional<failure_page> result;
  caf::error err;
  bool answered = false;
  t.run_until([&] {
    t.self->receive([&](failure_page& p) { result = std::move(p); answered = true; },
                    [&](caf::error& e) { err = std::move(e); answered = true; },
                    caf::after(0s) >> [] {});
    return answered;
  });
  return {std::move(result), std::move(err)};
}

/// The failures of every page from the start, in order, as (task id, reason).
std::vector<std::pair<std::int64_t, std::string>> all_pages(test_node& t, const std::string& id,
                                                             std::uint64_t limit) {
  std::vector<std::pair<std::int64_t, std::string>> out;
  std::int64_t after = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    auto [p, err] = page(t, id, after, limit);
    REQUIRE(p);
    auto failures = p->report ? p->report->failures(0) : p->failures;
    if (p->report) // a slice of the shared report
      failures = std::vector<task_failure>(failures.begin() + static_cast<std::ptrdiff_t>(p->first),
                                           failures.begin() + static_cast<std::ptrdiff_t>(p->last));
    for (auto& f : failures)
      out.emplace_back(f.id, f.reason);
    if (!p->more)
      return out;
    after = p->next;
  }
  FAIL("pages do not end");
  return out;
}

} // namespace

TEST_CASE("every reader of a finished batch shares its one rendered report") {
  test_node t{test_config(10)};
  auto r = t.submit(failing_batch(1, 30));  // 11..30 fail not_found
  REQUIRE(r.finished);
  CHECK(r.failed == 20);
  auto [a, e1] = t.ask(status_atom_v, r.batch_id);
  auto [b, e2] = t.ask(status_atom_v, r.batch_id);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->finished.ptr == r.finished.ptr);  // the same object, not a copy
  CHECK(b->finished.ptr == r.finished.ptr);
  CHECK(a->failures.size() == 20);           // with_failures read it back
  auto [p, e3] = page(t, r.batch_id, 0, 5);
  REQUIRE(p);
  CHECK(p->report.ptr == r.finished.ptr);    // a page is a slice of it
  CHECK(p->last - p->first == 5);
  CHECK(p->next == 15);
}

TEST_CASE("finished reports beyond the cache are read back from the store, the same") {
  auto cfg = test_config(10);
  cfg.cached_reports = 2;
  test_node t{cfg};
  std::vector<batch_report> reports;
  for (int i = 0; i < 5; ++i)
    reports.push_back(t.submit(failing_batch(1, 12 + i)));
  // The first three are out of the cache: the store answers, rendered anew, the same text.
  for (int i = 4; i >= 0; --i) { // newest first: reading an old one back evicts the oldest
    auto [r, err] = t.ask(status_atom_v, reports[static_cast<std::size_t>(i)].batch_id);
    REQUIRE(r);
    REQUIRE(r->finished);
    const auto& before = reports[static_cast<std::size_t>(i)];
    CHECK((r->finished.ptr == before.finished.ptr) == (i >= 3));
    CHECK(r->finished->failures_json == before.finished->failures_json);
    CHECK(r->elapsed_ms == before.elapsed_ms);
    CHECK(r->state == batch_state::done);
  }
  // Pages from the store (not cached) and from the cache read the same.
  auto expected = all_pages(t, reports[4].batch_id, 1000);
  CHECK(expected.size() == 6);
  CHECK(all_pages(t, reports[4].batch_id, 2) == expected);
  auto [p, err] = page(t, reports[0].batch_id, 0, 1);
  REQUIRE(p);
  CHECK(all_pages(t, reports[0].batch_id, 1).size() == 2);
  auto [unknown, why] = page(t, batch_id_text(999), 0, 10);
  CHECK(!unknown);
  refusal code{};
  REQUIRE(as_refusal(why, code));
  CHECK(code == refusal::unknown_batch);
}

TEST_CASE("a finished batch answers until the retention has passed, then it is unknown") {
  for (bool journal : {true, false}) {
    INFO("journal " << journal);
    auto cfg = test_config(10);
    cfg.journal = journal;
    cfg.retention = 1s;
    test_node t{cfg};
    auto r = t.submit(failing_batch(1, 12));
    auto [now, e1] = t.ask(status_atom_v, r.batch_id);
    CHECK(now);
    std::this_thread::sleep_for(1100ms);  // retention runs on the wall clock, as the store's
    auto [later, e2] = t.ask(status_atom_v, r.batch_id);
    CHECK(!later);
    refusal code{};
    REQUIRE(as_refusal(e2, code));
    CHECK(code == refusal::unknown_batch);
    auto [p, e3] = page(t, r.batch_id, 0, 10);
    CHECK(!p);
  }
}

TEST_CASE("a running batch pages the failures recorded so far") {
  auto cfg = test_config(10);
  cfg.latency.mode = latency_model::kind::seed;
  test_node t{cfg};
  t.self->send(t.node.coordinator, start_atom_v, failing_batch(1, 20));
  std::string id;
  t.run_for(50ms);  // Validate's 100 ms have not passed: nothing failed yet
  t.self->receive([&](batch_report& r) { id = r.batch_id; });
  auto [none, e1] = page(t, id, 0, 10);
  REQUIRE(none);
  CHECK(none->failures.empty());
  CHECK(!none->more);
  t.run_for(150ms);  // the fast unknown ids (not id % 5 == 0) failed in Validate
  auto [some, e2] = page(t, id, 0, 3);
  REQUIRE(some);
  CHECK(!some->report);
  REQUIRE(some->failures.size() == 3);
  CHECK(some->failures[0].id == 11);
  CHECK(some->more);
  CHECK(some->next == 13);
}
