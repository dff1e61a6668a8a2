// The batch journal (store/journal.hpp): the task blob, and SQLite's journal across reopening.
// What every store does alike is in store_test.cpp (memory, SQLite and PostgreSQL).
#include "store/memory/memory_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/task_store.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <chrono>
#include <string>
#include <vector>

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

namespace {

/// Journals batch `number` with `n` failures (task ids 1..n/2, each twice: position 2i and 2i+1)
/// and records its finish at `finished_ms`.
void finish_with_failures(task_store& s, std::uint64_t number, std::size_t n,
                          std::int64_t finished_ms, std::string key = {}) {
  REQUIRE(!s.journal({batch(number, std::move(key))}));
  std::vector<task_failure> failures;
  for (std::size_t i = 0; i < n; ++i)
    failures.push_back(task_failure{number, static_cast<std::uint32_t>(i),
                                    static_cast<std::int64_t>(1 + i / 2), stage::validate,
                                    failure_code::not_found, "reason " + std::to_string(i)});
  std::shuffle(failures.begin(), failures.end(), std::mt19937{42});
  REQUIRE(!s.record_outcomes(
    {batch_outcome{number, batch_state::done, finished_ms, 1.5, 0, std::move(failures)}}));
}

} // namespace

TEST_CASE("failure pages hold every failure once, in order, and never split one id") {
  temp_file file;
  auto memory = make_memory_store();
  auto sqlite = open_at(file);
  for (auto* store : {memory.get(), sqlite.get()}) {
    auto& s = *store;
    INFO((store == memory.get() ? "memory" : "sqlite"));
    finish_with_failures(s, 4, 2'001, unix_now_ms());
    std::vector<std::uint32_t> seen;
    std::int64_t after = 0;
    std::int64_t last_id = 0;
    for (int pages = 0;; ++pages) {
      REQUIRE(pages < 100);
      auto page = s.failures_after(4, after, 150);
      REQUIRE(page);
      CHECK(page->batch_id == batch_id_text(4));
      CHECK(page->failures.size() >= 150 - (page->more ? 0 : 150));
      CHECK(page->failures.size() <= 151);
      for (const auto& f : page->failures) {
        CHECK(f.id >= last_id);  // sorted
        CHECK(f.id > after);
        last_id = f.id;
        seen.push_back(f.index);
      }
      if (!page->more)
        break;
      CHECK(page->next == page->failures.back().id);
      after = page->next;
    }
    std::sort(seen.begin(), seen.end());
    REQUIRE(seen.size() == 2'001);
    for (std::uint32_t i = 0; i < seen.size(); ++i)
      CHECK(seen[i] == i);
    // Past the last id: empty, no next. An unknown batch: not_found.
    auto end = s.failures_after(4, 2'000, 10);
    REQUIRE(end);
    CHECK(end->failures.empty());
    CHECK_FALSE(end->more);
    CHECK(code_of(s.failures_after(99, 0, 10).error()) == failure_code::not_found);
  }
}

TEST_CASE("expired batches are gone at once, purged in slices, and their keys are free") {
  temp_file file;
  auto memory = make_memory_store();
  auto sqlite = open_at(file);
  for (auto* store : {memory.get(), sqlite.get()}) {
    auto& s = *store;
    INFO((store == memory.get() ? "memory" : "sqlite"));
    s.set_retention(std::chrono::hours{1});
    auto now = unix_now_ms();
    finish_with_failures(s, 1, 250, now - 3 * 3'600'000, "old-key");  // expired
    finish_with_failures(s, 2, 10, now - 2 * 3'600'000);              // expired
    finish_with_failures(s, 3, 10, now - 60'000, "new-key");          // kept
    REQUIRE(!s.journal({batch(5)}));                                  // running: kept
    for (std::uint64_t gone : {1, 2}) {
      CHECK(code_of(s.finished_report(gone).error()) == failure_code::not_found);
      CHECK(code_of(s.failures_after(gone, 0, 10).error()) == failure_code::not_found);
    }
    CHECK(s.find_idempotency_key("old-key")->batch == 0);
    CHECK(s.find_idempotency_key("new-key")->batch == 3);
    // The expired batch's key may be used again before the purge ran.
    REQUIRE(!s.journal({batch(6, "old-key")}));
    CHECK(s.find_idempotency_key("old-key")->batch == 6);
    // Slices of about 100 rows until nothing expired is left (SQLite; memory purges at once).
    int rounds = 0;
    for (;;) {
      auto more = s.purge_expired(100);
      REQUIRE(more);
      ++rounds;
      REQUIRE(rounds < 20);
      if (!*more)
        break;
    }
    if (store == sqlite.get())
      CHECK(rounds >= 3);
    CHECK(s.finished_report(3));
    CHECK(s.failures_after(3, 0, 100)->failures.size() == 10);
    CHECK(s.unfinished_batches()->batches.size() == 2);  // 5 and 6
    CHECK(s.find_idempotency_key("old-key")->batch == 6);
    CHECK_FALSE(*s.purge_expired(100));
  }
  // SQLite: the rows are gone from both journal tables (the contract's tables untouched).
  auto s = open_at(file);
  CHECK(code_of(s->finished_report(1).error()) == failure_code::not_found);
  CHECK(s->finished_report(3));
}
