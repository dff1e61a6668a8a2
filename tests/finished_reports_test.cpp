// The coordinator's cache of finished reports: bounded by count and by bytes (least recently
// used out first), and nothing in it outlives the retention.
#include "actors/finished_reports.hpp"
#include "messages/task.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace taskpipe;

namespace {

/// A finished report of batch `id` with `failures` failures of `reason_bytes` each.
finished_entry entry(std::uint64_t id, std::size_t failures, std::int64_t finished_ms,
                     std::size_t reason_bytes = 10) {
  batch_report r;
  r.batch_id = batch_id_text(id);
  r.state = batch_state::done;
  r.total = failures;
  r.failed = failures;
  r.finished_ms = finished_ms;
  for (std::size_t i = 0; i < failures; ++i)
    r.failures.push_back(task_failure{id, static_cast<std::uint32_t>(i),
                                      static_cast<std::int64_t>(i + 1), stage::validate,
                                      failure_code::not_found, std::string(reason_bytes, 'x')});
  return finished_entry{render_finished(std::move(r)), {}, {}};
}

constexpr std::int64_t now = 1'000'000;

} // namespace

TEST_CASE("finished reports: evicts the least recently used beyond the count") {
  std::vector<std::uint64_t> dropped;
  finished_reports cache{{3, std::size_t{1} << 30, std::chrono::hours{1}},
                         [&](std::uint64_t id, const finished_entry&) { dropped.push_back(id); }};
  for (std::uint64_t id = 1; id <= 3; ++id)
    cache.insert(id, entry(id, 1, now), now);
  REQUIRE(cache.find(1, now) != nullptr);  // 1 is now the most recently used
  cache.insert(4, entry(4, 1, now), now);
  CHECK(cache.size() == 3);
  CHECK(dropped == std::vector<std::uint64_t>{2});
  CHECK(cache.find(2, now) == nullptr);
  CHECK(cache.find(1, now) != nullptr);
  CHECK(cache.find(3, now) != nullptr);
  CHECK(cache.find(4, now) != nullptr);
  CHECK(cache.peek(3, now)->report->batch_id == batch_id_text(3));
}

TEST_CASE("finished reports: evicts by bytes, and a report over the bound is not kept") {
  auto one = entry(1, 1000, now).bytes();  // about 70 KB each
  finished_reports cache{{100, 3 * one + one / 2, std::chrono::hours{1}}};
  for (std::uint64_t id = 1; id <= 5; ++id)
    cache.insert(id, entry(id, 1000, now), now);
  CHECK(cache.size() == 3);
  CHECK(cache.bytes() <= 3 * one + one / 2);
  CHECK(cache.find(1, now) == nullptr);
  CHECK(cache.find(2, now) == nullptr);
  CHECK(cache.find(5, now) != nullptr);
  // Over the bound on its own: not kept, and nothing else is pushed out for it.
  auto huge = entry(6, 1000, now, 2000);
  REQUIRE(huge.bytes() > 3 * one + one / 2);
  cache.insert(6, std::move(huge), now);
  CHECK(cache.find(6, now) == nullptr);
  CHECK(cache.size() == 3);
  CHECK(cache.bytes() <= 3 * one + one / 2);
  // The bytes counted are the reports' own: the sum of what is kept.
  std::size_t kept = 0;
  for (std::uint64_t id = 1; id <= 6; ++id)
    if (const auto* e = cache.peek(id, now))
      kept += e->bytes();
  CHECK(kept == cache.bytes());
}

TEST_CASE("finished reports: nothing outlives the retention") {
  std::vector<std::uint64_t> dropped;
  finished_reports cache{finished_reports::limits::unbounded(std::chrono::seconds{10}),
                         [&](std::uint64_t id, const finished_entry&) { dropped.push_back(id); }};
  cache.insert(1, entry(1, 1, now - 9'000), now);
  cache.insert(2, entry(2, 1, now - 11'000), now);  // expired already: not kept
  CHECK(cache.size() == 1);
  CHECK(cache.find(1, now) != nullptr);
  CHECK(cache.find(1, now + 1'001) == nullptr);  // finished 10.001 s ago
  CHECK(cache.size() == 0);
  cache.insert(3, entry(3, 1, now), now);
  cache.insert(4, entry(4, 1, now + 5'000), now + 5'000);
  cache.expire(now + 12'000);  // a sweep drops 3 without anyone asking for it
  CHECK(cache.size() == 1);
  CHECK(cache.peek(4, now + 12'000) != nullptr);
  CHECK(dropped == std::vector<std::uint64_t>{1, 3});
  CHECK(cache.bytes() == cache.peek(4, now + 12'000)->bytes());
}
