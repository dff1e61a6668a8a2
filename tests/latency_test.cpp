#include "actors/latency.hpp"

#include <catch2/catch.hpp>

using namespace taskpipe;
using namespace std::chrono_literals;

TEST_CASE("latency models") {
  latency_model m;
  REQUIRE(parse_latency("seed", m));
  CHECK(m.delay(1) == 100ms);
  CHECK(m.delay(5) == 500ms);
  CHECK(m.delay(10) == 500ms);
  CHECK(m.critical_path({task_update{1, {}, {}}, task_update{2, {}, {}}}) == 400ms);
  CHECK(m.critical_path({task_update{1, {}, {}}, task_update{15, {}, {}}}) == 2000ms);
  CHECK(m.critical_path({}) == 0ms);
  REQUIRE(parse_latency("zero", m));
  CHECK(m.delay(5) == 0ms);
  REQUIRE(parse_latency("250", m));
  CHECK(m.delay(5) == 250ms);
  CHECK(to_string(m) == "250 ms");
  for (auto bad : {"", "-1", "1.5", "fast", "3600001", "12ms"})
    CHECK(!parse_latency(bad, m));
}

TEST_CASE("delay_queue releases tasks in due order / per delay class") {
  delay_queue q;
  caf::actor_clock::time_point t0{};
  auto env = [](std::uint64_t batch, std::int64_t id) {
    return task_envelope{batch, static_cast<std::uint32_t>(id), false, task_update{id, {}, {}}};
  };
  auto block = [&](std::uint64_t batch, std::initializer_list<std::int64_t> ids) {
    std::vector<task_envelope> tasks;
    for (auto id : ids)
      tasks.push_back(env(batch, id));
    return tasks;
  };
  q.push(block(1, {1}), t0, 500ms);
  q.push(block(1, {2, 5}), t0 + 10ms, 100ms);
  q.push(block(2, {3}), t0 + 20ms, 100ms);
  q.push({}, t0, 50ms);  // nothing to wait for: no entry
  CHECK(q.size() == 4);
  CHECK(q.next_due() == t0 + 110ms);
  std::vector<std::vector<task_envelope>> out;
  q.pop_due(t0 + 109ms, out);
  CHECK(out.empty());
  q.pop_due(t0 + 120ms, out);
  REQUIRE(out.size() == 2);
  REQUIRE(out[0].size() == 2);
  CHECK(out[0][0].update.id == 2);
  CHECK(out[0][1].update.id == 5);
  CHECK(out[1][0].update.id == 3);
  CHECK(q.size() == 1);
  CHECK(q.next_due() == t0 + 500ms);
  q.push(block(2, {4}), t0 + 120ms, 100ms);
  q.push(block(3, {6}), t0 + 120ms, 100ms);
  std::vector<task_envelope> taken;
  q.take_batch(2, taken);
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].update.id == 4);
  CHECK(q.size() == 2);
  out.clear();
  q.pop_due(t0 + 500ms, out);
  std::size_t released = 0;
  for (const auto& b : out)
    released += b.size();
  CHECK(released == 2);
  CHECK(q.empty());
}
