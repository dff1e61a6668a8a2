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
  q.push(env(1, 1), t0, 500ms);
  q.push(env(1, 2), t0 + 10ms, 100ms);
  q.push(env(2, 3), t0 + 20ms, 100ms);
  CHECK(q.size() == 3);
  CHECK(q.next_due() == t0 + 110ms);
  std::vector<task_envelope> out;
  q.pop_due(t0 + 109ms, out);
  CHECK(out.empty());
  q.pop_due(t0 + 120ms, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].update.id == 2);
  CHECK(out[1].update.id == 3);
  CHECK(q.next_due() == t0 + 500ms);
  q.push(env(2, 4), t0 + 120ms, 100ms);
  out.clear();
  q.take_batch(2, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].update.id == 4);
  CHECK(q.size() == 1);
  out.clear();
  q.pop_due(t0 + 500ms, out);
  CHECK(out.size() == 1);
  CHECK(q.empty());
}
