// The batch journal (store/journal.hpp): the task blob, and SQLite's journal across reopening.
// What every store does alike (journal, pages, retention) is in store_test.cpp (memory, SQLite
// and PostgreSQL).
#include "store/sqlite/sqlite_store.hpp"
#include "store/task_store.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
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

TEST_CASE("the task blob: every type code, id extremes and steps either way, 1,000 tasks") {
  std::vector<task_update> tasks{
    update(std::numeric_limits<std::int64_t>::max(), "TechTask", std::string(300, 's')),
    update(std::numeric_limits<std::int64_t>::min(), "SubTask", caf::none),
    update(-1, "Story", std::string{}), update(0, "epic", std::string{"lower-case: raw text"}),
    update(7, std::string(200, 'x'), caf::none), update(6, "Epic", std::string{"\xff\x00z", 3})};
  for (std::int64_t id = 1000; id < 2000; ++id)
    tasks.push_back(update(id, "Story", "Updated task " + std::to_string(id)));
  std::vector<task_update> back;
  auto blob = encode_tasks(tasks);
  REQUIRE(decode_tasks(blob, back));
  REQUIRE(back.size() == tasks.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].id == tasks[i].id);
    CHECK(back[i].type == tasks[i].type);
    CHECK(back[i].summary == tasks[i].summary);
  }
  // Consecutive ids with a contract type cost their summary plus three bytes.
  auto run = std::vector<task_update>(tasks.begin() + 6, tasks.end());
  CHECK(encode_tasks(run).size() <= 4 + 2 + 1000 * 3 + 19'000);
  for (std::size_t cut = 0; cut < 64; ++cut)
    CHECK_FALSE(decode_tasks(blob.substr(0, cut), back));
}

TEST_CASE("the task blob of an older node (fixed-width ids and lengths) is still read") {
  auto fixed = [](std::string& out, std::uint64_t x, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out += static_cast<char>((x >> (8 * i)) & 0xff);
  };
  std::string old;
  fixed(old, 2, 4);
  fixed(old, 42, 8);
  old += '\3';
  fixed(old, 4, 4);
  old += "Epic";
  fixed(old, 3, 4);
  old += "one";
  fixed(old, static_cast<std::uint64_t>(-5), 8);
  old += '\0';
  std::vector<task_update> back;
  REQUIRE(decode_tasks(old, back));
  REQUIRE(back.size() == 2);
  CHECK(back[0].id == 42);
  CHECK(back[0].type == std::string{"Epic"});
  CHECK(back[0].summary == std::string{"one"});
  CHECK(back[1].id == -5);
  CHECK_FALSE(back[1].type);
  CHECK_FALSE(back[1].summary);
  CHECK_FALSE(decode_tasks(old + "x", back));
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
