// The store actor with the SQLite store, on real threads: an answer comes only after the commit of
// the writes it reports, and a group that cannot commit answers failures. And the store's
// run_flush(), what the actor runs per flush: one commit for the journal, the chunks and the
// outcome records, one refused part leaving the others, a failed commit failing them all.
#include "actors/store_actor.hpp"
#include "actors/type_ids.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <string>

using namespace taskpipe;

namespace {

struct temp_file {
  std::filesystem::path path = std::filesystem::temp_directory_path()
                               / ("taskpipe-store-actor-" + std::to_string(std::random_device{}())
                                  + ".db");
  ~temp_file() {
    std::error_code ec;
    for (auto suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path.string() + suffix, ec);
  }
};

/// A task's version as another connection (another process) sees it.
std::int64_t version_seen_by_others(const std::filesystem::path& path, std::int64_t id) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  auto sql = "SELECT version FROM tasks WHERE id = " + std::to_string(id);
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  std::int64_t version = -1;
  if (sqlite3_step(s) == SQLITE_ROW)
    version = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return version;
}

task_chunk update_chunk(std::uint64_t batch, std::int64_t first, std::int64_t last) {
  task_chunk chunk;
  for (auto id = first; id <= last; ++id) {
    task_envelope t;
    t.batch = batch;
    t.index = static_cast<std::uint32_t>(id - first);
    t.update = task_update{id, std::string{"Epic"}, caf::none};
    chunk.tasks.push_back(std::move(t));
  }
  return chunk;
}

/// A SQLite store whose commits are counted and can be made to fail.
struct hooked_store {
  temp_file file;
  std::atomic<int> commits{0};
  std::atomic<int> synchronous{-1};
  std::atomic<bool> roll_back{false};
  std::unique_ptr<task_store> opened;

  hooked_store() {
    sqlite_test_hooks hooks;
    hooks.opened = [this](sqlite3* db) {
      sqlite3_commit_hook(
        db,
        [](void* arg) {
          static_cast<hooked_store*>(arg)->commits += 1;
          return 0;
        },
        this);
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &s, nullptr);
      if (sqlite3_step(s) == SQLITE_ROW)
        synchronous = sqlite3_column_int(s, 0);
      sqlite3_finalize(s);
    };
    hooks.before_commit = [this](sqlite3* db) {
      if (roll_back) // as SQLite does on its own after an I/O error
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    };
    store_options opts;
    opts.location = file.path.string();
    auto store = open_sqlite_store(opts, std::move(hooks));
    REQUIRE(store);
    REQUIRE_FALSE((*store)->seed(100));
    commits = 0;
    opened = std::move(*store);
  }
};

struct store_fixture : hooked_store {
  caf::actor_system_config cfg;
  caf::actor_system sys{(register_types(cfg), cfg)};
  store_actor store;

  store_fixture() {
    store = spawn_store_actor(sys, std::move(opened));
  }

  ~store_fixture() {
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE("store actor: an answer comes after the commit of the writes it reports") {
  store_fixture f;
  CHECK(f.synchronous == 2); // FULL: the commit is fsynced before COMMIT returns
  caf::scoped_actor self{f.sys};
  for (int round = 1; round <= 3; ++round) {
    auto first = std::int64_t{round} * 10;
    self->request(f.store, caf::infinite, stage::update, std::uint64_t(round),
                  update_chunk(1, first, first + 4))
      .receive(
        [&](std::uint64_t ticket, task_chunk& passed, failure_chunk& failed) {
          CHECK(ticket == std::uint64_t(round));
          CHECK(passed.tasks.size() == 5);
          CHECK(failed.failures.empty());
          // Committed before the answer left, and visible to everyone else.
          CHECK(f.commits == round);
          CHECK(version_seen_by_others(f.file.path, first) == 2);
          CHECK(version_seen_by_others(f.file.path, first + 4) == 2);
        },
        [&](caf::error& err) { FAIL(to_string(err)); });
  }
}

TEST_CASE("store actor: a group SQLite rolled back answers failures, not successes") {
  store_fixture f;
  f.roll_back.store(true);
  caf::scoped_actor self{f.sys};
  self->request(f.store, caf::infinite, stage::update, std::uint64_t{7}, update_chunk(1, 1, 5))
    .receive(
      [&](std::uint64_t ticket, task_chunk& passed, failure_chunk& failed) {
        CHECK(ticket == 7);
        CHECK(passed.tasks.empty());
        REQUIRE(failed.failures.size() == 5);
        for (const auto& x : failed.failures) {
          CHECK(x.code == failure_code::storage_error);
          CHECK(x.where == stage::update);
          CHECK_THAT(x.reason, Catch::Contains("update commit failed"));
          CHECK_THAT(x.reason, Catch::Contains("rolled back"));
        }
      },
      [&](caf::error& err) { FAIL(to_string(err)); });
  CHECK(version_seen_by_others(f.file.path, 1) == 1);
}

namespace {

journaled_batch admitted(std::uint64_t batch) {
  journaled_batch b;
  b.batch = batch;
  b.admitted_ms = unix_now_ms();
  b.deadline_ms = b.admitted_ms + 60'000;
  b.tasks.push_back(task_update{1, std::string{"Epic"}, caf::none});
  return b;
}

batch_outcome finished(std::uint64_t batch) {
  batch_outcome o;
  o.batch = batch;
  o.state = batch_state::done;
  o.finished_ms = unix_now_ms();
  o.succeeded = 1;
  return o;
}

/// A flush of batch 2's journal entry, an Update chunk of batch 1 (ids 1..5) and batch 1's
/// outcome.
struct flush_parts {
  std::vector<chunk_work> group;
  store_flush work;

  flush_parts() {
    group.push_back(chunk_work{stage::update, update_chunk(1, 1, 5).tasks, {}});
    work.journal.push_back(admitted(2));
    work.group = group;
    work.outcomes.push_back(finished(1));
  }
};

bool all_passed(const chunk_work& w) {
  return std::all_of(w.results.begin(), w.results.end(), [](const auto& r) { return !r; });
}

} // namespace

TEST_CASE("store: a flush's journal entries, chunks and outcome records are one commit") {
  hooked_store s;
  REQUIRE_FALSE(s.opened->journal({admitted(1)}));
  s.commits = 0;
  flush_parts f;
  s.opened->run_flush(f.work);
  CHECK_FALSE(f.work.journal_error);
  CHECK_FALSE(f.work.outcomes_error);
  CHECK(all_passed(f.group.front()));
  CHECK(s.commits == 1); // one transaction, one fsync (synchronous=FULL), where there were three
  CHECK(version_seen_by_others(s.file.path, 5) == 2);
  auto report = s.opened->finished_report(1);
  REQUIRE(report);
  CHECK(report->succeeded == 1);
  auto unfinished = s.opened->unfinished_batches();
  REQUIRE(unfinished);
  REQUIRE(unfinished->batches.size() == 1);
  CHECK(unfinished->batches.front().admitted.batch == 2);
}

TEST_CASE("store: a journal entry the store refuses leaves the rest of its flush") {
  hooked_store s;
  REQUIRE_FALSE(s.opened->journal({admitted(1), admitted(2)}));
  s.commits = 0;
  flush_parts f; // batch 2 again: its row exists
  s.opened->run_flush(f.work);
  CHECK(f.work.journal_error);
  CHECK_FALSE(f.work.outcomes_error);
  CHECK(all_passed(f.group.front()));
  CHECK(s.commits == 1);
  CHECK(version_seen_by_others(s.file.path, 1) == 2);
  auto report = s.opened->finished_report(1);
  CHECK(report);
}

TEST_CASE("store: a flush whose commit fails fails every part") {
  hooked_store s;
  REQUIRE_FALSE(s.opened->journal({admitted(1)}));
  s.roll_back.store(true);
  flush_parts f;
  s.opened->run_flush(f.work);
  CHECK(f.work.journal_error);
  CHECK(f.work.outcomes_error);
  for (const auto& r : f.group.front().results)
    CHECK(code_of(r) == failure_code::storage_error);
  s.roll_back.store(false);
  CHECK(version_seen_by_others(s.file.path, 1) == 1);
  CHECK_FALSE(s.opened->finished_report(1)); // not recorded
  auto unfinished = s.opened->unfinished_batches();
  REQUIRE(unfinished);
  REQUIRE(unfinished->batches.size() == 1); // batch 1 only: batch 2 was not journaled
  CHECK(unfinished->batches.front().admitted.batch == 1);
}
