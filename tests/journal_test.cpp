// The batch journal (store/journal.hpp): both stores alike; SQLite's also across reopening.
#include "store/memory/memory_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/task_store.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

using namespace taskpipe;

namespace {

namespace fs = std::filesystem;

struct temp_file {
  fs::path path;
  temp_file() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path()
           / ("taskpipe-journal-test-" + std::to_string(std::random_device{}()) + "-"
              + std::to_string(++counter) + ".db");
  }
  ~temp_file() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"})
      fs::remove(path.string() + suffix, ec);
  }
};

std::unique_ptr<task_store> open_at(const temp_file& f) {
  store_options opts;
  opts.location = f.path.string();
  auto s = open_sqlite_store(opts);
  REQUIRE(s);
  return std::move(*s);
}

task_update update(std::int64_t id, caf::optional<std::string> type,
                   caf::optional<std::string> summary) {
  return task_update{id, std::move(type), std::move(summary)};
}

journaled_batch batch(std::uint64_t number, std::string key = {}) {
  journaled_batch b;
  b.batch = number;
  b.admitted_ms = 1'000'000 + static_cast<std::int64_t>(number);
  b.deadline_ms = b.admitted_ms + 60'000;
  b.idempotency_key = std::move(key);
  b.body_digest = b.idempotency_key.empty() ? "" : "digest-" + std::to_string(number);
  b.tasks = {update(1, "Epic", "one"), update(2, caf::none, std::string{"two \"quoted\""}),
             update(3, std::string{""}, caf::none), update(1, caf::none, caf::none)};
  return b;
}

/// Runs a task of `batch` through audit, update and notify (applied and notified).
void apply_all(task_store& s, std::uint64_t batch, std::int64_t id) {
  task_envelope t{batch, 0, false, update(id, "Epic", "one")};
  for (auto where : {stage::validate, stage::audit, stage::update, stage::notify})
    REQUIRE(!s.apply(where, t));
}

} // namespace

TEST_CASE("the task blob round-trips every field") {
  auto b = batch(1);
  std::vector<task_update> back;
  REQUIRE(decode_tasks(encode_tasks(b.tasks), back));
  REQUIRE(back.size() == b.tasks.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].id == b.tasks[i].id);
    CHECK(back[i].type == b.tasks[i].type);
    CHECK(back[i].summary == b.tasks[i].summary);
  }
  auto blob = encode_tasks(b.tasks);
  CHECK_FALSE(decode_tasks(blob.substr(0, blob.size() - 1), back));
  CHECK_FALSE(decode_tasks(blob + "x", back));
  CHECK(decode_tasks(encode_tasks({}), back));
  CHECK(back.empty());
}

TEST_CASE("journaled batches are unfinished until their outcome is recorded") {
  temp_file file;
  auto memory = make_memory_store();
  auto sqlite = open_at(file);
  for (auto* store : {memory.get(), sqlite.get()}) {
    auto& s = *store;
    INFO((store == memory.get() ? "memory" : "sqlite"));
    s.seed(5);
    REQUIRE(!s.journal({batch(7, "key-7"), batch(8)}));
    CHECK(*s.last_batch() == 8);
    apply_all(s, 7, 1);
    // task 2 applied, not notified
    task_envelope t2{7, 1, false, update(2, caf::none, std::string{"two"})};
    for (auto where : {stage::validate, stage::audit, stage::update})
      REQUIRE(!s.apply(where, t2));
    auto found = s.unfinished_batches();
    REQUIRE(found);
    REQUIRE(found->batches.size() == 2);
    const auto& r = found->batches.front();
    CHECK(r.admitted.batch == 7);
    CHECK(r.admitted.deadline_ms == r.admitted.admitted_ms + 60'000);
    CHECK(r.admitted.idempotency_key == "key-7");
    CHECK(r.admitted.tasks.size() == 4);
    CHECK(r.admitted.tasks[1].summary == std::string{"two \"quoted\""});
    CHECK(r.notified_ids == std::vector<std::int64_t>{1});
    std::vector<std::int64_t> applied = r.applied_ids;
    std::sort(applied.begin(), applied.end());
    CHECK(applied == std::vector<std::int64_t>{1, 2});
    CHECK_FALSE(r.cancelled);
    // The key names its batch; another key none.
    CHECK(s.find_idempotency_key("key-7")->batch == 7);
    CHECK(s.find_idempotency_key("key-7")->body_digest == "digest-7");
    CHECK(s.find_idempotency_key("other")->batch == 0);
    // A taken number or key is refused, and nothing of that group is kept.
    CHECK(s.journal({batch(9), batch(10, "key-7")}));
    CHECK(s.unfinished_batches()->batches.size() == 2);
    // A cancel is recorded; a finish ends it.
    REQUIRE(!s.record_outcomes({batch_outcome{8, batch_state::cancelled, 0, 0, 0, {}}}));
    auto again = s.unfinished_batches();
    REQUIRE(again->batches.size() == 2);
    CHECK(again->batches.back().cancelled);
    CHECK(code_of(s.finished_report(7).error()) == failure_code::not_found);
    std::vector<task_failure> failures{
      {7, 3, 1, stage::validate, failure_code::duplicate_in_batch, "task 1 appeared earlier"},
      {7, 2, 3, stage::validate, failure_code::invalid_type, "type \"\" is not one of"},
      {7, 1, 2, stage::notify, failure_code::timeout, "deadline (the update was applied)"}};
    REQUIRE(!s.record_outcomes({batch_outcome{7, batch_state::done, 2'000'000, 12.5, 1, failures}}));
    auto left = s.unfinished_batches();
    REQUIRE(left->batches.size() == 1);
    CHECK(left->batches.front().admitted.batch == 8);
    auto report = s.finished_report(7);
    REQUIRE(report);
    CHECK(report->batch_id == batch_id_text(7));
    CHECK(report->state == batch_state::done);
    CHECK(report->total == 4);
    CHECK(report->succeeded == 1);
    CHECK(report->failed == 3);
    CHECK(report->elapsed_ms == 12.5);
    REQUIRE(report->failures.size() == 3);
    // Sorted by id, then position.
    CHECK(report->failures[0].id == 1);
    CHECK(report->failures[0].code == failure_code::duplicate_in_batch);
    CHECK(report->failures[1].id == 2);
    CHECK(report->failures[1].where == stage::notify);
    CHECK(report->failures[1].reason == "deadline (the update was applied)");
    CHECK(report->failures[2].id == 3);
    // The key outlives the finish.
    CHECK(s.find_idempotency_key("key-7")->batch == 7);
  }
}

TEST_CASE("sqlite: the journal survives reopening the file") {
  temp_file file;
  {
    auto s = open_at(file);
    s->seed(3);
    REQUIRE(!s->journal({batch(3, "k")}));
  }
  auto s = open_at(file);
  auto found = s->unfinished_batches();
  REQUIRE(found);
  REQUIRE(found->batches.size() == 1);
  CHECK(found->batches.front().admitted.tasks.size() == 4);
  CHECK(*s->last_batch() == 3);
  CHECK(s->find_idempotency_key("k")->batch == 3);
}
