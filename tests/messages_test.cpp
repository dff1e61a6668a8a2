// Every message type survives CAF's binary serializer, as it must to cross the network.
#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "actors/type_ids.hpp"
#include "messages/task.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <catch2/catch.hpp>

using namespace taskpipe;

namespace {

struct serialization_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;

  static caf::actor_system_config& prepared(caf::actor_system_config& cfg) {
    register_types(cfg);
    return cfg;
  }

  serialization_fixture() : sys(prepared(cfg)) {
  }

  template <class T>
  T round_trip(T x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE(!sink(x));
    T y;
    caf::binary_deserializer source{sys, buf};
    REQUIRE(!source(y));
    return y;
  }
};

task_update sample_update() {
  return task_update{9'223'372'036'854'775'807, std::string{"SubTask"},
                     std::string{"Ünïcode \xF0\x9F\x9A\x80 summary"}};
}

task_failure sample_failure() {
  return task_failure{42, 7, 17, stage::notify, failure_code::storage_error, "outbox full"};
}

} // namespace

TEST_CASE_METHOD(serialization_fixture, "task messages round-trip") {
  auto u = round_trip(sample_update());
  CHECK(u.id == 9'223'372'036'854'775'807);
  REQUIRE(u.type);
  CHECK(*u.type == "SubTask");
  CHECK(*u.summary == *sample_update().summary);
  auto absent = round_trip(task_update{3, caf::none, caf::none});
  CHECK(!absent.type);
  CHECK(!absent.summary);

  auto e = round_trip(task_envelope{5, 6, true, sample_update()});
  CHECK(e.batch == 5);
  CHECK(e.index == 6);
  CHECK(e.duplicate);
  CHECK(e.update.id == sample_update().id);

  task_chunk chunk;
  chunk.tasks.assign(3, task_envelope{1, 2, false, sample_update()});
  CHECK(round_trip(chunk).tasks.size() == 3);

  auto refs = round_trip(completion_chunk{{task_ref{1, 2}, task_ref{3, 4}}});
  REQUIRE(refs.tasks.size() == 2);
  CHECK(refs.tasks[1].batch == 3);
  CHECK(refs.tasks[1].index == 4);

  batch_request req;
  req.tasks = {sample_update(), task_update{2, caf::none, std::string{"x"}}};
  req.timeout_ms = 1234;
  auto req2 = round_trip(req);
  CHECK(req2.tasks.size() == 2);
  CHECK(req2.timeout_ms == 1234);

  auto st = round_trip(stored_task{5, "Epic", "s", 3, "2026-11-27T23:01:02.345Z"});
  CHECK(st.version == 3);
  CHECK(st.updated_at == "2026-11-27T23:01:02.345Z");

  auto counts = round_trip(store_counts{1, 2, 3, 4});
  CHECK(counts.outbox_rows == 4);
}

TEST_CASE_METHOD(serialization_fixture, "outcome messages round-trip") {
  auto f = round_trip(sample_failure());
  CHECK(f.where == stage::notify);
  CHECK(f.code == failure_code::storage_error);
  CHECK(f.reason == "outbox full");
  CHECK(round_trip(failure_chunk{{sample_failure(), sample_failure()}}).failures.size() == 2);

  batch_report r;
  r.batch_id = batch_id_text(99);
  r.state = batch_state::cancelled;
  r.total = 10;
  r.succeeded = 7;
  r.failed = 3;
  r.elapsed_ms = 12.5;
  r.failures = {sample_failure()};
  auto r2 = round_trip(r);
  CHECK(r2.batch_id == r.batch_id);
  CHECK(r2.state == batch_state::cancelled);
  CHECK(r2.succeeded == 7);
  CHECK(r2.elapsed_ms == 12.5);
  CHECK(r2.failures.size() == 1);

  failure_counts c;
  c.by_stage_and_code = {1, 2, 3};
  CHECK(round_trip(c).by_stage_and_code == c.by_stage_and_code);
}

TEST_CASE("names are the contract's words and parse back") {
  for (auto t : {task_type::epic, task_type::story, task_type::sub_task, task_type::tech_task}) {
    task_type back{};
    REQUIRE(from_string(to_string(t), back));
    CHECK(back == t);
  }
  CHECK(to_string(task_type::sub_task) == "SubTask");
  task_type ignored{};
  CHECK(!from_string("epic", ignored));
  CHECK(!from_string("", ignored));
  CHECK(to_string(stage::pipeline) == "pipeline");
  CHECK(to_string(failure_code::duplicate_in_batch) == "duplicate_in_batch");
  for (std::size_t i = 0; i < failure_code_count; ++i) {
    failure_code back{};
    REQUIRE(from_string(to_string(static_cast<failure_code>(i)), back));
    CHECK(static_cast<std::size_t>(back) == i);
  }
}

TEST_CASE("batch ids are b- and 16 hex digits and parse back") {
  CHECK(batch_id_text(0x1a2b3c) == "b-00000000001a2b3c");
  std::uint64_t id = 0;
  REQUIRE(parse_batch_id(batch_id_text(0xffffffffffffffff), id));
  CHECK(id == 0xffffffffffffffff);
  CHECK(!parse_batch_id("b-1a2b3c", id));
  CHECK(!parse_batch_id("b-00000000001A2B3C", id));
  CHECK(!parse_batch_id("x-00000000001a2b3c", id));
}

TEST_CASE("refusals travel as caf::error of taskpipe's category") {
  auto err = caf::make_error(refusal::overloaded, "too many");
  refusal r{};
  REQUIRE(as_refusal(err, r));
  CHECK(r == refusal::overloaded);
  CHECK(!as_refusal(caf::error{}, r));
}
