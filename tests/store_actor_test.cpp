// The store actor with the SQLite store, on real threads: an answer comes only after the commit of
// the writes it reports, and a group that cannot commit answers failures.
#include "actors/store_actor.hpp"
#include "actors/type_ids.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>

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

struct store_fixture {
  temp_file file;
  std::atomic<int> commits{0};
  std::atomic<int> synchronous{-1};
  std::atomic<bool> roll_back{false};
  caf::actor_system_config cfg;
  caf::actor_system sys{(register_types(cfg), cfg)};
  store_actor store;

  store_fixture() {
    sqlite_test_hooks hooks;
    hooks.opened = [this](sqlite3* db) {
      sqlite3_commit_hook(
        db,
        [](void* arg) {
          static_cast<store_fixture*>(arg)->commits += 1;
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
    auto opened = open_sqlite_store(opts, std::move(hooks));
    REQUIRE(opened);
    REQUIRE_FALSE((*opened)->seed(100));
    commits = 0;
    store = spawn_store_actor(sys, std::move(*opened));
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
  f.roll_back = true;
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
