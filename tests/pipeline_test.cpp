// End to end on the real threaded scheduler with the SQLite store.
#include "actors/pipeline.hpp"
#include "actors/type_ids.hpp"

#include <caf/all.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <random>

using namespace taskpipe;

namespace {

/// The coordinator's answer with its rendered report's failures read back into `failures`.
batch_report with_failures(batch_report r) {
  std::uint64_t batch = 0;
  if (r.finished && parse_batch_id(r.batch_id, batch))
    r.failures = r.finished->failures(batch);
  return r;
}

struct temp_db {
  std::filesystem::path path;
  temp_db() {
    path = std::filesystem::temp_directory_path()
           / ("taskpipe-test-" + std::to_string(std::random_device{}()) + ".db");
  }
  ~temp_db() {
    std::error_code ec;
    for (auto suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path.string() + suffix, ec);
  }
  void exec(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    auto rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }
  std::int64_t scalar(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    auto value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
};

caf::actor_system_config& threaded_config(caf::actor_system_config& cfg) {
  register_types(cfg);
  return cfg;
}

struct sqlite_node {
  temp_db db;
  caf::actor_system_config cfg;
  caf::actor_system sys{threaded_config(cfg)};
  pipeline node;

  explicit sqlite_node(std::int64_t seed, const std::string& setup_sql = "",
                       fault_injector faults = {}) {
    pipeline_config pc;
    pc.faults = std::move(faults);
    pc.store = store_kind::sqlite;
    pc.db_path = db.path.string();
    pc.seed_tasks = seed;
    node = spawn_pipeline(sys, pc);
    if (!setup_sql.empty())
      db.exec(setup_sql);  // after the store created its schema
  }

  batch_report submit(batch_request req) {
    caf::scoped_actor self{sys};
    batch_report result;
    self->request(node.coordinator, caf::infinite, submit_atom_v, std::move(req))
      .receive([&](batch_report& r) { result = with_failures(std::move(r)); },
               [&](caf::error& e) { FAIL("refused: " << sys.render(e)); });
    return result;
  }

  ~sqlite_node() {
    caf::scoped_actor self{sys};
    self->request(node.coordinator, caf::infinite, drain_atom_v)
      .receive([](done_atom) {}, [](caf::error&) {});
  }
};

batch_request mixed_batch(std::int64_t n) {
  batch_request req;
  for (std::int64_t id = 1; id <= n; ++id) {
    task_update u{id, std::string{"SubTask"}, "New summary " + std::to_string(id)};
    if (id % 10 == 0)
      u.summary = std::string{};  // invalid_summary
    req.tasks.push_back(std::move(u));
  }
  return req;
}

} // namespace

TEST_CASE("10000 tasks through the SQLite store: rows written exactly once") {
  sqlite_node n{9'990};
  auto r = n.submit(mixed_batch(10'000));
  REQUIRE(r.pending == 0);
  CHECK(r.total == 10'000);
  CHECK(r.succeeded + r.failed == r.total);
  // every 10th has an empty summary; ids 9991..9999 do not exist.
  CHECK(r.failed == 1000 + 9);
  auto ok = static_cast<std::int64_t>(r.succeeded);
  CHECK(n.db.scalar("SELECT count(*) FROM audit") == ok);
  CHECK(n.db.scalar("SELECT count(*) FROM outbox") == ok);
  CHECK(n.db.scalar("SELECT count(*) FROM tasks WHERE version = 2") == ok);
  CHECK(n.db.scalar("SELECT count(*) FROM tasks WHERE type = 'SubTask'") == ok);
  CHECK(n.db.scalar("SELECT count(*) FROM tasks WHERE id % 10 = 0 AND version <> 1") == 0);
}

TEST_CASE("a write the store refuses fails with storage_error / and says the update was applied") {
  sqlite_node n{20, "CREATE TRIGGER no_outbox_for_7 BEFORE INSERT ON outbox WHEN NEW.task_id = 7 "
                    "BEGIN SELECT RAISE(ABORT, 'outbox full'); END;"};
  batch_request req;
  for (std::int64_t id = 1; id <= 10; ++id)
    req.tasks.push_back(task_update{id, std::string{"Epic"}, caf::none});
  auto r = n.submit(std::move(req));
  REQUIRE(r.pending == 0);
  CHECK(r.succeeded == 9);
  REQUIRE(r.failures.size() == 1);
  auto& f = r.failures[0];
  CHECK(f.id == 7);
  CHECK(f.where == stage::notify);
  CHECK(f.code == failure_code::storage_error);
  CHECK(f.reason.find("outbox full") != std::string::npos);
  // It failed in Notify, so it was updated: the version says so.
  CHECK(n.db.scalar("SELECT version FROM tasks WHERE id = 7") == 2);
  CHECK(n.db.scalar("SELECT count(*) FROM outbox") == 9);
}

TEST_CASE("two batches on the same tasks: the one accepted last wins though it is applied first") {
  // The first batch's Audit is held (a test hook in its worker) until the second is done.
  std::atomic<bool> second_done{false};
  sqlite_node n{100, "", [&](stage s, const task_envelope& t) {
    if (s == stage::audit && t.batch == 1)
      for (int i = 0; i < 500 && !second_done.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }};
  auto batch = [](const char* summary) {
    batch_request req;
    for (std::int64_t id = 1; id <= 50; ++id)
      req.tasks.push_back(task_update{id, caf::none, std::string{summary}});
    return req;
  };
  caf::scoped_actor self{n.sys};
  std::string first_id;
  self->request(n.node.coordinator, caf::infinite, start_atom_v, batch("first"))
    .receive([&](batch_report& r) { first_id = r.batch_id; },
             [&](caf::error& e) { FAIL("refused: " << n.sys.render(e)); });
  REQUIRE(first_id == batch_id_text(1));
  auto second = n.submit(batch("second"));
  CHECK(second.succeeded == 50);
  second_done = true;
  batch_report first;
  first.pending = 1;
  for (int i = 0; i < 500 && first.pending != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    self->request(n.node.coordinator, caf::infinite, status_atom_v, first_id)
      .receive([&](batch_report& r) { first = with_failures(std::move(r)); },
               [&](caf::error&) {});
  }
  REQUIRE(first.pending == 0);
  INFO((first.failures.empty() ? std::string{} : first.failures[0].reason));
  // The first batch succeeds, superseded: the value accepted last stands, applied once.
  CHECK(first.succeeded == 50);
  CHECK(n.db.scalar("SELECT count(*) FROM tasks WHERE summary = 'second' AND version = 2") == 50);
  CHECK(n.db.scalar("SELECT count(*) FROM applied_updates WHERE batch_id = '" + first_id
                    + "' AND superseded_by = '" + second.batch_id + "'")
        == 50);
  // Each audit row holds what its batch's Audit read: the second ran first.
  CHECK(n.db.scalar("SELECT count(*) FROM audit WHERE batch_id = '" + second.batch_id
                    + "' AND old_summary LIKE 'Task %'")
        == 50);
  CHECK(n.db.scalar("SELECT count(*) FROM audit WHERE batch_id = '" + first_id
                    + "' AND old_summary = 'second'")
        == 50);
}
