// The task store: every implementation (memory, SQLite, PostgreSQL) must behave alike; what SQLite
// and PostgreSQL hold is also checked directly with SQL. The PostgreSQL cases run against the
// test server of the ctest fixture postgres_server (tests/postgres), each store in a schema of its
// own.
#include "store/memory/memory_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/task_store.hpp"

#include <catch2/catch.hpp>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace taskpipe;

namespace {

namespace fs = std::filesystem;

/// A fresh path under the temp directory; the database and its -wal/-shm files go away after.
struct temp_db_path {
  fs::path path;

  temp_db_path() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path = fs::temp_directory_path()
           / ("taskpipe-store-test-" + std::to_string(rd()) + "-" + std::to_string(++counter)
              + ".db");
    remove_files();
  }

  temp_db_path(const temp_db_path&) = delete;
  temp_db_path& operator=(const temp_db_path&) = delete;

  ~temp_db_path() {
    remove_files();
  }

  void remove_files() const {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      fs::remove(path.string() + suffix, ec);
  }
};

enum class which_store { memory, sqlite, postgres };

/// The SQLite store at `path`; throws if it cannot be opened.
std::unique_ptr<task_store> sqlite_at(const fs::path& path) {
  store_options opts;
  opts.location = path.string();
  auto store = open_sqlite_store(opts);
  if (!store)
    throw std::runtime_error(reason_of(store.error()));
  return std::move(*store);
}

/// What a store call's result says, as a test compares it.
enum class result_kind { ok, not_found, storage_error, other };

result_kind kind_of(const caf::error& r) {
  if (!r)
    return result_kind::ok;
  switch (code_of(r)) {
    case failure_code::not_found:
      return result_kind::not_found;
    case failure_code::storage_error:
      return result_kind::storage_error;
    default:
      return result_kind::other;
  }
}

/// The test server's URI (tests/postgres: the second line of $TASKPIPE_PG_STATE).
std::string postgres_uri() {
  const char* state = std::getenv("TASKPIPE_PG_STATE");
  if (!state)
    throw std::runtime_error("TASKPIPE_PG_STATE is not set (run the test through ctest)");
  std::ifstream in{state};
  std::string dir, uri;
  if (!std::getline(in, dir) || !std::getline(in, uri))
    throw std::runtime_error(std::string{"no PostgreSQL test server in "} + state);
  return uri;
}

/// A connection to the test server (for setting up and reading what a store wrote).
PGconn* postgres_connect(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("cannot connect to the test server: " + why);
  }
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  return c;
}

void postgres_exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  auto status = PQresultStatus(r);
  std::string why = PQresultErrorMessage(r);
  PQclear(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + why);
}

/// A schema of its own on the test server, dropped afterwards; conninfo() reaches it.
struct postgres_schema {
  std::string name;
  std::string uri;

  postgres_schema() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    name = "store_test_" + std::to_string(rd() % 1000000000u) + "_" + std::to_string(++counter);
    uri = postgres_uri();
    PGconn* c = postgres_connect(uri);
    postgres_exec(c, "CREATE SCHEMA " + name);
    PQfinish(c);
  }

  postgres_schema(const postgres_schema&) = delete;
  postgres_schema& operator=(const postgres_schema&) = delete;

  ~postgres_schema() {
    try {
      PGconn* c = postgres_connect(uri);
      PGresult* r = PQexec(c, ("DROP SCHEMA " + name + " CASCADE").c_str());
      PQclear(r);
      PQfinish(c);
    } catch (...) {
    }
  }

  /// The store's URI: the schema first on its search_path, and an application_name that finds
  /// its connections in pg_stat_activity.
  std::string conninfo() const {
    return uri + "?options=-csearch_path%3D" + name + "&application_name=" + name;
  }
};

/// The PostgreSQL store in `schema`; throws if it cannot be opened.
std::unique_ptr<task_store> postgres_at(const postgres_schema& schema) {
  store_options opts;
  opts.kind = store_kind::postgres;
  opts.location = schema.conninfo();
  auto store = open_store(opts);
  if (!store)
    throw std::runtime_error(reason_of(store.error()));
  return std::move(*store);
}

/// One store under test; for SQLite also its file, for PostgreSQL its schema.
struct fixture {
  which_store kind;
  std::unique_ptr<temp_db_path> file;
  std::unique_ptr<postgres_schema> schema;
  std::unique_ptr<task_store> store;

  explicit fixture(which_store k) : kind(k) {
    if (kind == which_store::sqlite) {
      file = std::make_unique<temp_db_path>();
      store = sqlite_at(file->path);
    } else if (kind == which_store::postgres) {
      schema = std::make_unique<postgres_schema>();
      store = postgres_at(*schema);
    } else {
      store = make_memory_store();
    }
  }

  ~fixture() {
    store.reset(); // closes the database before its files (or its schema) are removed
  }

  bool is_sqlite() const {
    return kind == which_store::sqlite;
  }

  /// Whether the store's tables can be read with SQL (see reader).
  bool has_sql() const {
    return kind != which_store::memory;
  }
};

const char* name_of(which_store k) {
  switch (k) {
    case which_store::sqlite:
      return "sqlite";
    case which_store::postgres:
      return "postgres";
    default:
      return "memory";
  }
}

/// A second, independent connection to a store's database (as another process would open it):
/// a SQLite file, or the PostgreSQL schema of a fixture.
class reader {
public:
  explicit reader(const fs::path& path, bool writable = false) {
    auto flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string{"cannot open: "} + sqlite3_errmsg(db_));
    sqlite3_busy_timeout(db_, 5000);
  }

  /// The fixture's database (not for the memory store).
  explicit reader(const fixture& f, bool writable = false) {
    if (f.kind == which_store::postgres) {
      pg_ = postgres_connect(f.schema->conninfo());
      postgres_exec(pg_, "SET application_name = 'store_test reader'");
    } else {
      *this = reader{f.file->path, writable};
    }
  }

  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;
  reader& operator=(reader&& other) noexcept {
    std::swap(db_, other.db_);
    std::swap(pg_, other.pg_);
    return *this;
  }

  ~reader() {
    if (db_)
      sqlite3_close(db_);
    if (pg_)
      PQfinish(pg_);
  }

  /// Every row of a query, columns joined by '|', NULL as "NULL".
  std::vector<std::string> rows(const std::string& sql) {
    if (pg_)
      return pg_rows(sql);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string{"prepare failed: "} + sqlite3_errmsg(db_));
    std::vector<std::string> result;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (i > 0)
          row += '|';
        auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        row += text ? text : "NULL";
      }
      result.push_back(std::move(row));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
      throw std::runtime_error(std::string{"query failed: "} + sqlite3_errmsg(db_));
    return result;
  }

  std::string one(const std::string& sql) {
    auto r = rows(sql);
    if (r.size() != 1)
      throw std::runtime_error("expected one row from: " + sql);
    return r.front();
  }

  void exec(const std::string& sql) {
    if (pg_)
      return postgres_exec(pg_, sql);
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string why = msg ? msg : "?";
      sqlite3_free(msg);
      throw std::runtime_error("exec failed: " + why);
    }
  }

private:
  std::vector<std::string> pg_rows(const std::string& sql) {
    PGresult* r = PQexec(pg_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string why = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("query failed: " + why);
    }
    std::vector<std::string> result;
    for (int row = 0; row < PQntuples(r); ++row) {
      std::string line;
      for (int col = 0; col < PQnfields(r); ++col) {
        if (col > 0)
          line += '|';
        line += PQgetisnull(r, row, col) ? "NULL" : PQgetvalue(r, row, col);
      }
      result.push_back(std::move(line));
    }
    PQclear(r);
    return result;
  }

  sqlite3* db_ = nullptr;
  PGconn* pg_ = nullptr;
};

task_envelope task(std::uint64_t batch, std::int64_t id, caf::optional<std::string> type,
                   caf::optional<std::string> summary) {
  task_envelope t;
  t.batch = batch;
  t.update.id = id;
  t.update.type = std::move(type);
  t.update.summary = std::move(summary);
  return t;
}

/// Runs the four stages for one task in one group; returns the failing stage's result, if any.
caf::error run_all(task_store& store, const task_envelope& t) {
  store.begin();
  caf::error result;
  for (auto where : all_stages) {
    result = store.apply(where, t);
    if (kind_of(result) != result_kind::ok)
      break;
  }
  auto err = reason_of(store.commit());
  REQUIRE(err == "");
  return result;
}

bool is_ok(const caf::error& r) {
  return kind_of(r) == result_kind::ok;
}

bool is_timestamp(const std::string& text) {
  static const std::regex re{R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)"};
  return std::regex_match(text, re);
}

const auto none = caf::optional<std::string>{};

} // namespace

TEST_CASE("seed creates exactly the missing tasks and keeps existing ones") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  CHECK(store.counts()->tasks == 0);
  store.seed(0);
  CHECK(store.counts()->tasks == 0);
  store.seed(5);
  CHECK(store.counts()->tasks == 5);
  REQUIRE(is_ok(run_all(store, task(1, 3, "Epic", "Changed"))));
  store.seed(10);
  CHECK(store.counts()->tasks == 10);
  auto t3 = store.find(3);
  REQUIRE(t3);
  CHECK(t3->type == "Epic");
  CHECK(t3->summary == "Changed");
  CHECK(t3->version == 2);
  auto t10 = store.find(10);
  REQUIRE(t10);
  CHECK(t10->id == 10);
  CHECK(t10->type == "Story");
  CHECK(t10->summary == "Task 10");
  CHECK(t10->version == 1);
  CHECK(is_timestamp(t10->updated_at));
  CHECK_FALSE(store.find(11));
  CHECK_FALSE(store.find(0));
  CHECK_FALSE(store.find(-1));
  store.seed(3); // smaller: nothing changes
  CHECK(store.counts()->tasks == 10);
  CHECK(store.find(3)->summary == "Changed");
}

TEST_CASE("validate finds existing tasks and reports missing ones without writing") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(3);
  store.begin();
  CHECK(is_ok(store.apply(stage::validate, task(1, 2, "Story", none))));
  auto missing = store.apply(stage::validate, task(1, 4, "Story", none));
  CHECK(kind_of(missing) == result_kind::not_found);
  CHECK(reason_of(missing) == "task 4 does not exist");
  CHECK(kind_of(store.apply(stage::validate, task(1, 0, none, "x")))
        == result_kind::not_found);
  CHECK(reason_of(store.commit()) == "");
  auto c = *store.counts();
  CHECK(c.tasks == 3);
  CHECK(c.audit_rows == 0);
  CHECK(c.applied_updates == 0);
  CHECK(c.outbox_rows == 0);
  CHECK(store.find(2)->version == 1);
}

TEST_CASE("audit records the old and the requested values") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(3);
  store.begin();
  CHECK(is_ok(store.apply(stage::audit, task(7, 1, "Epic", none))));
  CHECK(is_ok(store.apply(stage::audit, task(7, 2, none, "New summary"))));
  CHECK(reason_of(store.commit()) == "");
  CHECK(store.counts()->audit_rows == 2);
  CHECK(store.find(1)->version == 1); // auditing changes no task
  CHECK(store.find(1)->type == "Story");
  if (f.has_sql()) {
    reader db{f};
    auto rows = db.rows("SELECT batch_id, task_id, old_type, old_summary, new_type, new_summary "
                        "FROM audit ORDER BY task_id");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0] == batch_id_text(7) + "|1|Story|Task 1|Epic|NULL");
    CHECK(rows[1] == batch_id_text(7) + "|2|Story|Task 2|NULL|New summary");
    CHECK(is_timestamp(db.one("SELECT at FROM audit WHERE task_id = 1")));
  }
}

TEST_CASE("update bumps the version and applies only the given fields") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(3);
  store.begin();
  CHECK(is_ok(store.apply(stage::update, task(1, 1, none, "Only the summary"))));
  CHECK(is_ok(store.apply(stage::update, task(1, 2, "TechTask", none))));
  CHECK(is_ok(store.apply(stage::update, task(1, 3, "SubTask", "Both"))));
  CHECK(reason_of(store.commit()) == "");
  auto t1 = store.find(1);
  CHECK(t1->type == "Story");
  CHECK(t1->summary == "Only the summary");
  CHECK(t1->version == 2);
  CHECK(is_timestamp(t1->updated_at));
  auto t2 = store.find(2);
  CHECK(t2->type == "TechTask");
  CHECK(t2->summary == "Task 2");
  CHECK(t2->version == 2);
  auto t3 = store.find(3);
  CHECK(t3->type == "SubTask");
  CHECK(t3->summary == "Both");
  CHECK(t3->version == 2);
  CHECK(store.counts()->applied_updates == 3);
  if (f.has_sql()) {
    reader db{f};
    CHECK(db.one("SELECT batch_id, version FROM applied_updates WHERE task_id = 3")
          == batch_id_text(1) + "|2");
    CHECK(db.one("SELECT CASE WHEN updated_at = (SELECT at FROM applied_updates WHERE task_id = 3) "
                 "THEN 1 ELSE 0 END FROM tasks WHERE id = 3")
          == "1");
  }
}

TEST_CASE("notify writes one outbox row with a readable message") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(20);
  REQUIRE(is_ok(run_all(store, task(2, 17, "Story", R"(Rename "login" page)"))));
  CHECK(store.counts()->outbox_rows == 1);
  if (f.has_sql()) {
    reader db{f};
    CHECK(db.one("SELECT message FROM outbox WHERE task_id = 17")
          == R"(task 17 updated to version 2: type Story, summary "Rename \"login\" page")");
    CHECK(is_timestamp(db.one("SELECT created_at FROM outbox WHERE task_id = 17")));
  }
}

TEST_CASE("applying the same task twice changes nothing the second time") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(10);
  auto t = task(5, 5, "Epic", "Once");
  REQUIRE(is_ok(run_all(store, t)));
  // Again in a new group, and twice within one group.
  REQUIRE(is_ok(run_all(store, t)));
  store.begin();
  for (auto where : {stage::audit, stage::update, stage::notify}) {
    CHECK(is_ok(store.apply(where, t)));
    CHECK(is_ok(store.apply(where, t)));
  }
  CHECK(reason_of(store.commit()) == "");
  // A retry with other values (a bug upstream) must not apply either.
  REQUIRE(is_ok(run_all(store, task(5, 5, "Story", "Other"))));
  auto t5 = store.find(5);
  CHECK(t5->version == 2);
  CHECK(t5->type == "Epic");
  CHECK(t5->summary == "Once");
  auto c = *store.counts();
  CHECK(c.audit_rows == 1);
  CHECK(c.applied_updates == 1);
  CHECK(c.outbox_rows == 1);

  SECTION("another batch on the same task applies again") {
    REQUIRE(is_ok(run_all(store, task(6, 5, none, "Twice"))));
    t5 = store.find(5);
    CHECK(t5->version == 3);
    CHECK(t5->type == "Epic");
    CHECK(t5->summary == "Twice");
    c = *store.counts();
    CHECK(c.audit_rows == 2);
    CHECK(c.applied_updates == 2);
    CHECK(c.outbox_rows == 2);
    if (f.has_sql()) {
      reader db{f};
      CHECK(db.rows("SELECT batch_id, version FROM applied_updates ORDER BY version")
            == std::vector<std::string>{batch_id_text(5) + "|2", batch_id_text(6) + "|3"});
      CHECK(db.one("SELECT old_summary, new_summary FROM audit WHERE batch_id = '"
                   + batch_id_text(6) + "'")
            == "Once|Twice");
    }
  }
}

TEST_CASE("writes for a task that no longer exists fail with storage_error") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(2);
  store.begin();
  for (auto where : {stage::audit, stage::update, stage::notify}) {
    auto r = store.apply(where, task(1, 9, "Epic", none));
    CHECK(kind_of(r) == result_kind::storage_error);
    CHECK(reason_of(r) == "task 9 does not exist any more");
  }
  CHECK(is_ok(store.apply(stage::update, task(1, 2, "Epic", none))));
  CHECK(reason_of(store.commit()) == "");
  auto c = *store.counts();
  CHECK(c.audit_rows == 0);
  CHECK(c.applied_updates == 1);
  CHECK(c.outbox_rows == 0);
}

TEST_CASE("begin and commit group writes and a lone apply commits by itself") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(4);
  CHECK(reason_of(store.commit()) == ""); // nothing open: nothing to do
  store.begin();
  store.begin(); // joins the open group
  CHECK(is_ok(store.apply(stage::update, task(1, 1, "Epic", none))));
  CHECK(reason_of(store.commit()) == "");
  CHECK(reason_of(store.commit()) == "");
  CHECK(is_ok(store.apply(stage::update, task(1, 2, "Epic", none)))); // outside a group
  CHECK(store.find(1)->version == 2);
  CHECK(store.find(2)->version == 2);
  if (f.has_sql()) {
    reader db{f};
    CHECK(db.one("SELECT count(*) FROM applied_updates") == "2");
  }
}

TEST_CASE("sqlite: a refused write fails only its task and the store stays usable") {
  fixture f{which_store::sqlite};
  auto& store = *f.store;
  store.seed(10);
  reader admin{f.file->path, true};
  admin.exec("CREATE TRIGGER outbox_full BEFORE INSERT ON outbox WHEN NEW.task_id = 7 "
             "BEGIN SELECT RAISE(ABORT, 'outbox full'); END;");
  store.begin();
  for (std::int64_t id : {7, 8})
    for (auto where : {stage::validate, stage::audit, stage::update})
      REQUIRE(is_ok(store.apply(where, task(3, id, "Epic", none))));
  auto refused = store.apply(stage::notify, task(3, 7, "Epic", none));
  CHECK(kind_of(refused) == result_kind::storage_error);
  CHECK_THAT(reason_of(refused), Catch::Contains("outbox full"));
  CHECK_THAT(reason_of(refused), Catch::Contains("outbox insert failed"));
  CHECK(is_ok(store.apply(stage::notify, task(3, 8, "Epic", none))));
  CHECK(reason_of(store.commit()) == "");
  CHECK(admin.rows("SELECT task_id FROM outbox") == std::vector<std::string>{"8"});
  // Task 7 failed in Notify: it was updated all the same.
  CHECK(admin.one("SELECT version, type FROM tasks WHERE id = 7") == "2|Epic");
  CHECK(admin.one("SELECT count(*) FROM audit") == "2");
  // Once the cause is gone, a retry of the same task succeeds.
  admin.exec("DROP TRIGGER outbox_full");
  store.begin();
  CHECK(is_ok(store.apply(stage::notify, task(3, 7, "Epic", none))));
  CHECK(reason_of(store.commit()) == "");
  CHECK(store.counts()->outbox_rows == 2);
}

TEST_CASE("sqlite: a refused task update leaves no applied_updates row behind") {
  fixture f{which_store::sqlite};
  auto& store = *f.store;
  store.seed(10);
  reader admin{f.file->path, true};
  admin.exec("CREATE TRIGGER tasks_locked BEFORE UPDATE ON tasks WHEN NEW.id = 9 "
             "BEGIN SELECT RAISE(ABORT, 'task 9 is locked'); END;");
  store.begin();
  auto refused = store.apply(stage::update, task(4, 9, "Epic", none));
  CHECK(kind_of(refused) == result_kind::storage_error);
  CHECK_THAT(reason_of(refused), Catch::Contains("task 9 is locked"));
  CHECK(is_ok(store.apply(stage::update, task(4, 8, "Epic", none))));
  CHECK(reason_of(store.commit()) == "");
  CHECK(admin.rows("SELECT task_id FROM applied_updates") == std::vector<std::string>{"8"});
  CHECK(store.find(9)->version == 1);
  admin.exec("DROP TRIGGER tasks_locked");
  CHECK(is_ok(store.apply(stage::update, task(4, 9, "Epic", none))));
  CHECK(store.find(9)->version == 2);
  CHECK(store.find(9)->type == "Epic");
}

TEST_CASE("sqlite: an error that rolls back the transaction fails the whole group") {
  fixture f{which_store::sqlite};
  auto& store = *f.store;
  store.seed(10);
  reader admin{f.file->path, true};
  admin.exec("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox WHEN NEW.task_id = 9 "
             "BEGIN SELECT RAISE(ROLLBACK, 'outbox broken'); END;");
  store.begin();
  CHECK(is_ok(store.apply(stage::update, task(5, 1, "Epic", none))));
  auto refused = store.apply(stage::notify, task(5, 9, "Epic", none));
  CHECK(kind_of(refused) == result_kind::storage_error);
  CHECK_THAT(reason_of(refused), Catch::Contains("outbox broken"));
  auto later = store.apply(stage::update, task(5, 2, "Epic", none));
  CHECK(kind_of(later) == result_kind::storage_error);
  CHECK_THAT(reason_of(later), Catch::Contains("rolled back"));
  auto err = reason_of(store.commit());
  CHECK_THAT(err, Catch::Contains("outbox broken"));
  CHECK(store.find(1)->version == 1);
  CHECK(store.find(2)->version == 1);
  CHECK(store.counts()->applied_updates == 0);
  // The store is usable again in the next group.
  admin.exec("DROP TRIGGER outbox_broken");
  REQUIRE(is_ok(run_all(store, task(5, 1, "Epic", none))));
  CHECK(store.find(1)->version == 2);
}

TEST_CASE("sqlite: the file is readable by another connection while the store is open") {
  fixture f{which_store::sqlite};
  auto& store = *f.store;
  store.seed(100);
  reader db{f};
  CHECK(db.one("PRAGMA journal_mode") == "wal");
  CHECK(db.one("SELECT count(*) FROM tasks") == "100");
  // While a group is open, readers see the last committed state and are not blocked.
  store.begin();
  CHECK(is_ok(store.apply(stage::update, task(1, 1, "Epic", none))));
  CHECK(db.one("SELECT version FROM tasks WHERE id = 1") == "1");
  CHECK(reason_of(store.commit()) == "");
  CHECK(db.one("SELECT version FROM tasks WHERE id = 1") == "2");
  CHECK(db.rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        == std::vector<std::string>{"applied_updates", "audit", "batch_failures", "batches",
                                    "outbox", "task_order", "tasks"}); // the contract's, the
                                                                     // journal's and per-key order
}

TEST_CASE("sqlite: a file whose applied_updates an earlier version keyed by task is upgraded") {
  temp_db_path file;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.path.c_str(), &db) == SQLITE_OK);
    auto b = [](std::uint64_t n) { return "'" + batch_id_text(n) + "'"; };
    auto sql = "PRAGMA journal_mode=WAL;"
               "CREATE TABLE tasks(id INTEGER PRIMARY KEY, type TEXT NOT NULL, summary TEXT NOT "
               "NULL, version INTEGER NOT NULL, updated_at TEXT NOT NULL);"
               "CREATE TABLE applied_updates(batch_id TEXT NOT NULL, task_id INTEGER NOT NULL, "
               "version INTEGER NOT NULL, at TEXT NOT NULL, superseded_by TEXT, "
               "PRIMARY KEY(task_id, batch_id)) WITHOUT ROWID;"
               "INSERT INTO tasks VALUES(1, 'Epic', 'By 5', 3, 'x'), (2, 'Story', 'Task 2', 1, 'x');"
               "INSERT INTO applied_updates VALUES(" + b(4) + ", 1, 2, 'x', NULL), (" + b(5)
               + ", 1, 3, 'x', NULL);";
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = sqlite_at(file.path);
  reader db{file.path};
  // Keyed batch first again, every row kept, and each task's newest batch known.
  CHECK(db.one("SELECT group_concat(name) FROM pragma_table_info('applied_updates') WHERE pk > 0 "
               "ORDER BY pk") == "batch_id,task_id");
  CHECK(db.one("SELECT count(*) FROM applied_updates") == "2");
  CHECK(db.rows("SELECT task_id, batch_id FROM task_order")
        == std::vector<std::string>{"1|" + batch_id_text(5)});
  // Per-key order goes on from what the file held: batch 3 is older than task 1's newest.
  REQUIRE(is_ok(run_all(*store, task(3, 1, "Story", "By 3"))));
  CHECK(store->find(1)->summary == "By 5");
  CHECK(db.one("SELECT superseded_by FROM applied_updates WHERE batch_id = '" + batch_id_text(3)
               + "'") == batch_id_text(5));
  REQUIRE(is_ok(run_all(*store, task(6, 1, "Story", "By 6"))));
  CHECK(store->find(1)->summary == "By 6");
  CHECK(store->find(1)->version == 4);
  CHECK(db.one("SELECT batch_id FROM task_order WHERE task_id = 1") == batch_id_text(6));
}

TEST_CASE("sqlite: the data survives reopening the file") {
  temp_db_path file;
  {
    auto store = sqlite_at(file.path);
    store->seed(5);
    REQUIRE(is_ok(run_all(*store, task(1, 4, "Epic", "Kept"))));
  }
  auto store = sqlite_at(file.path);
  auto t4 = store->find(4);
  REQUIRE(t4);
  CHECK(t4->summary == "Kept");
  CHECK(t4->version == 2);
  // The rows written before make a retry a no-op.
  REQUIRE(is_ok(run_all(*store, task(1, 4, "Epic", "Kept"))));
  CHECK(store->find(4)->version == 2);
  auto c = *store->counts();
  CHECK(c.tasks == 5);
  CHECK(c.audit_rows == 1);
  CHECK(c.applied_updates == 1);
  CHECK(c.outbox_rows == 1);
}

TEST_CASE("sqlite: opening a bad path fails naming the path") {
  auto missing_dir = fs::temp_directory_path() / "taskpipe-no-such-dir-4711" / "x.db";
  store_options opts;
  opts.location = missing_dir.string();
  {
    auto store = open_sqlite_store(opts);
    REQUIRE_FALSE(store);
    CHECK_THAT(reason_of(store.error()), Catch::Contains(missing_dir.string()));
  }
  temp_db_path garbage;
  {
    std::ofstream out{garbage.path};
    out << std::string(8192, 'x');
  }
  opts.location = garbage.path.string();
  auto store = open_sqlite_store(opts);
  REQUIRE_FALSE(store);
  CHECK(code_of(store.error()) == failure_code::storage_error);
  CHECK_THAT(reason_of(store.error()), Catch::Contains(garbage.path.string()));
  CHECK_THAT(reason_of(store.error()), Catch::Contains("not a database"));
}

TEST_CASE("a task in several batches keeps every batch's retry a no-op") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(6);
  for (std::uint64_t batch : {11, 12, 13})
    REQUIRE(is_ok(run_all(store, task(batch, 4, none, "Batch " + std::to_string(batch)))));
  REQUIRE(is_ok(run_all(store, task(11, 5, "Epic", none))));
  // Retries of each earlier batch, in another order, within one group and in new groups.
  store.begin();
  for (std::uint64_t batch : {12, 11, 13, 11})
    for (auto where : all_stages)
      CHECK(is_ok(store.apply(where, task(batch, 4, "Epic", "Retry"))));
  CHECK(reason_of(store.commit()) == "");
  for (std::uint64_t batch : {13, 12})
    REQUIRE(is_ok(run_all(store, task(batch, 4, "Epic", "Retry"))));
  auto t4 = store.find(4);
  REQUIRE(t4);
  CHECK(t4->version == 4);
  CHECK(t4->type == "Story");
  CHECK(t4->summary == "Batch 13");
  CHECK(store.find(5)->version == 2);
  auto c = *store.counts();
  CHECK(c.audit_rows == 4);
  CHECK(c.applied_updates == 4);
  CHECK(c.outbox_rows == 4);
  // A fourth batch still applies.
  REQUIRE(is_ok(run_all(store, task(14, 4, "SubTask", none))));
  CHECK(store.find(4)->version == 5);
  CHECK(store.find(4)->type == "SubTask");
  CHECK(store.find(4)->summary == "Batch 13");
  CHECK(store.counts()->applied_updates == 5);
}

TEST_CASE("tasks seeded later and long summaries are kept exactly") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(2);
  CHECK(kind_of(store.apply(stage::validate, task(1, 3000, none, "x")))
        == result_kind::not_found);
  store.seed(3000);
  CHECK(is_ok(store.apply(stage::validate, task(1, 3000, none, "x"))));
  CHECK_FALSE(store.find(3001));
  std::string long_summary(300000, 'y');
  REQUIRE(is_ok(run_all(store, task(1, 3000, none, long_summary))));
  REQUIRE(is_ok(run_all(store, task(1, 2999, none, "short"))));
  REQUIRE(is_ok(run_all(store, task(2, 2999, none, ""))));
  CHECK(store.find(3000)->summary == long_summary);
  CHECK(store.find(2999)->summary == "");
  CHECK(store.find(2998)->summary == "Task 2998");
  CHECK(store.counts()->tasks == 3000);
}

namespace {

/// Runs one stage for a chunk: through apply_chunk, or task by task through apply.
std::vector<caf::error> run_chunk(task_store& store, stage where,
                                    const std::vector<task_envelope>& tasks, bool chunked) {
  std::vector<caf::error> results;
  if (chunked) {
    results.push_back(caf::error{}); // stale content must go
    store.apply_chunk(where, tasks, results);
  } else {
    for (const auto& t : tasks)
      results.push_back(store.apply(where, t));
  }
  return results;
}

std::string describe(const caf::error& r) {
  switch (kind_of(r)) {
    case result_kind::ok:
      return "ok";
    case result_kind::not_found:
      return "not_found: " + reason_of(r);
    case result_kind::storage_error:
      return "storage_error: " + reason_of(r);
    default:
      return "other: " + reason_of(r);
  }
}

std::vector<std::string> describe(const std::vector<caf::error>& results) {
  std::vector<std::string> out;
  for (const auto& r : results)
    out.push_back(describe(r));
  return out;
}

/// Everything a store holds that a test can see: each task and for SQLite every row.
std::vector<std::string> contents(fixture& f, std::int64_t max_id) {
  std::vector<std::string> out;
  for (std::int64_t id = -3; id <= max_id; ++id)
    if (auto t = f.store->find(id))
      out.push_back(std::to_string(id) + "|" + t->type + "|" + t->summary + "|"
                    + std::to_string(t->version));
  auto c = *f.store->counts();
  out.push_back("counts " + std::to_string(c.tasks) + " " + std::to_string(c.audit_rows) + " "
                + std::to_string(c.applied_updates) + " " + std::to_string(c.outbox_rows));
  if (f.has_sql()) {
    reader db{f};
    // Every column but the timestamps (the two stores ran at different times).
    for (const auto& query :
         {"SELECT 'audit', batch_id, task_id, old_type, old_summary, new_type, new_summary "
          "FROM audit ORDER BY batch_id, task_id",
          "SELECT 'applied', batch_id, task_id, version FROM applied_updates "
          "ORDER BY batch_id, task_id",
          "SELECT 'outbox', batch_id, task_id, message FROM outbox ORDER BY batch_id, task_id"})
      for (auto& row : db.rows(query))
        out.push_back(std::move(row));
  }
  return out;
}

} // namespace

TEST_CASE("apply_chunk gives the results of apply task by task") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  auto sparse = GENERATE(false, true);
  INFO("store: " << name_of(kind) << (sparse ? " (ids spread wide)" : " (ids close)"));
  // Gaps in the ids and ids that do not exist (also 0 and negative) and duplicates within the
  // chunk: the same (batch and task) twice and the same task in two batches.
  std::vector<task_envelope> tasks{
    task(1, 3, "Epic", none),          task(1, 1, none, R"(Say "hi" \ bye)"),
    task(1, 2, "SubTask", "Two"),      task(1, 5, none, ""),
    task(1, 25, "Epic", none),         task(1, 3, "Epic", none),
    task(2, 3, "TechTask", "Second"),  task(1, 0, "Epic", none),
    task(1, -3, none, "x"),            task(1, 8, "Story", "Eight"),
  };
  if (sparse)
    tasks.push_back(task(1, 90'000, "Epic", "far"));
  fixture chunked{kind};
  fixture single{kind};
  for (auto* f : {&chunked, &single}) {
    f->store->seed(sparse ? 90'000 : 20);
    // A retry of a task that was applied before.
    REQUIRE(is_ok(run_all(*f->store, task(1, 8, "Story", "Eight"))));
  }
  for (auto where : all_stages) {
    INFO("stage: " << to_string(where));
    chunked.store->begin();
    auto got = run_chunk(*chunked.store, where, tasks, true);
    CHECK(reason_of(chunked.store->commit()) == "");
    single.store->begin();
    auto want = run_chunk(*single.store, where, tasks, false);
    CHECK(reason_of(single.store->commit()) == "");
    REQUIRE(got.size() == tasks.size());
    CHECK(describe(got) == describe(want));
  }
  auto max_id = sparse ? std::int64_t{90'000} : std::int64_t{20};
  CHECK(contents(chunked, max_id) == contents(single, max_id));
  // Spot checks of what both did.
  auto t3 = chunked.store->find(3);
  CHECK(t3->version == 3);
  CHECK(t3->type == "TechTask");
  CHECK(t3->summary == "Second");
  CHECK(chunked.store->find(5)->summary == "");
  CHECK(chunked.store->find(8)->version == 2);
  if (chunked.has_sql()) {
    reader db{chunked};
    CHECK(db.one("SELECT message FROM outbox WHERE task_id = 1")
          == R"(task 1 updated to version 2: type Story, summary "Say \"hi\" \\ bye")");
    CHECK(db.one("SELECT message FROM outbox WHERE task_id = 3 AND batch_id = '"
                 + batch_id_text(1) + "'")
          == R"(task 3 updated to version 3: type TechTask, summary "Second")");
  }
}

TEST_CASE("apply_chunk reports missing tasks and outside a group commits by itself") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(4);
  std::vector<task_envelope> tasks{task(1, 4, "Epic", none), task(1, 6, "Epic", none),
                                   task(1, 2, none, "Two")};
  std::vector<caf::error> results;
  store.apply_chunk(stage::validate, tasks, results);
  CHECK(describe(results)
        == std::vector<std::string>{"ok", "not_found: task 6 does not exist", "ok"});
  for (auto where : {stage::audit, stage::update, stage::notify}) {
    store.apply_chunk(where, tasks, results);
    CHECK(describe(results)
          == std::vector<std::string>{"ok", "storage_error: task 6 does not exist any more",
                                      "ok"});
  }
  store.apply_chunk(stage::pipeline, tasks, results);
  CHECK(describe(results) == std::vector<std::string>{"ok", "ok", "ok"});
  store.apply_chunk(stage::update, {}, results);
  CHECK(results.empty());
  CHECK(store.find(4)->version == 2);
  CHECK(store.find(2)->summary == "Two");
  auto c = *store.counts();
  CHECK(c.audit_rows == 2);
  CHECK(c.applied_updates == 2);
  CHECK(c.outbox_rows == 2);
}

TEST_CASE("sqlite: a refused write in the middle of a chunk fails only its task") {
  fixture f{which_store::sqlite};
  auto& store = *f.store;
  store.seed(10);
  reader admin{f.file->path, true};
  admin.exec("CREATE TRIGGER tasks_locked BEFORE UPDATE ON tasks WHEN NEW.id = 6 "
             "BEGIN SELECT RAISE(ABORT, 'task 6 is locked'); END;");
  admin.exec("CREATE TRIGGER outbox_full BEFORE INSERT ON outbox WHEN NEW.task_id = 7 "
             "BEGIN SELECT RAISE(ABORT, 'outbox full'); END;");
  std::vector<task_envelope> tasks;
  for (std::int64_t id = 5; id <= 9; ++id)
    tasks.push_back(task(3, id, "Epic", none));
  std::vector<caf::error> results;
  store.begin();
  for (auto where : {stage::validate, stage::audit}) {
    store.apply_chunk(where, tasks, results);
    CHECK(describe(results) == std::vector<std::string>(5, "ok"));
  }
  store.apply_chunk(stage::update, tasks, results);
  REQUIRE(results.size() == 5);
  CHECK(kind_of(results[1]) == result_kind::storage_error);
  CHECK_THAT(reason_of(results[1]), Catch::Contains("task 6 is locked"));
  for (std::size_t i : {0, 2, 3, 4})
    CHECK(is_ok(results[i]));
  store.apply_chunk(stage::notify, tasks, results);
  REQUIRE(results.size() == 5);
  CHECK(kind_of(results[2]) == result_kind::storage_error);
  CHECK_THAT(reason_of(results[2]), Catch::Contains("outbox full"));
  for (std::size_t i : {0, 1, 3, 4})
    CHECK(is_ok(results[i])); // task 6's notify is not the store's to refuse
  CHECK(reason_of(store.commit()) == "");
  CHECK(admin.rows("SELECT task_id FROM applied_updates ORDER BY task_id")
        == std::vector<std::string>{"5", "7", "8", "9"});
  CHECK(admin.rows("SELECT task_id FROM outbox ORDER BY task_id")
        == std::vector<std::string>{"5", "6", "8", "9"});
  CHECK(store.find(6)->version == 1);
  CHECK(store.find(7)->version == 2);
  // Once the causes are gone, retrying the whole chunk completes exactly the missing rows.
  admin.exec("DROP TRIGGER tasks_locked");
  admin.exec("DROP TRIGGER outbox_full");
  store.begin();
  for (auto where : all_stages) {
    store.apply_chunk(where, tasks, results);
    CHECK(describe(results) == std::vector<std::string>(5, "ok"));
  }
  CHECK(reason_of(store.commit()) == "");
  for (std::int64_t id = 5; id <= 9; ++id)
    CHECK(store.find(id)->version == 2);
  auto c = *store.counts();
  CHECK(c.audit_rows == 5);
  CHECK(c.applied_updates == 5);
  CHECK(c.outbox_rows == 5);
}

TEST_CASE("sqlite: an error that rolls back the transaction mid-chunk fails the rest") {
  fixture f{which_store::sqlite};
  auto& store = *f.store;
  store.seed(10);
  reader admin{f.file->path, true};
  admin.exec("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox WHEN NEW.task_id = 3 "
             "BEGIN SELECT RAISE(ROLLBACK, 'outbox broken'); END;");
  std::vector<task_envelope> tasks;
  for (std::int64_t id = 1; id <= 5; ++id)
    tasks.push_back(task(5, id, "Epic", none));
  std::vector<caf::error> results;
  store.begin();
  store.apply_chunk(stage::update, tasks, results);
  CHECK(describe(results) == std::vector<std::string>(5, "ok"));
  store.apply_chunk(stage::notify, tasks, results);
  REQUIRE(results.size() == 5);
  CHECK(is_ok(results[0]));
  CHECK(is_ok(results[1]));
  CHECK_THAT(reason_of(results[2]), Catch::Contains("outbox broken"));
  for (std::size_t i : {3, 4}) {
    CHECK(kind_of(results[i]) == result_kind::storage_error);
    CHECK_THAT(reason_of(results[i]), Catch::Contains("rolled back"));
  }
  CHECK_THAT(reason_of(store.commit()), Catch::Contains("outbox broken"));
  CHECK(store.counts()->applied_updates == 0);
  CHECK(store.find(1)->version == 1);
  // A lone chunk is a group of its own: all of it fails when the group cannot commit.
  store.apply_chunk(stage::notify, tasks, results);
  for (const auto& r : results) {
    CHECK(kind_of(r) == result_kind::storage_error);
    CHECK_THAT(reason_of(r), Catch::Contains("outbox broken"));
  }
  CHECK(store.counts()->outbox_rows == 0);
  admin.exec("DROP TRIGGER outbox_broken");
  store.apply_chunk(stage::update, tasks, results);
  CHECK(describe(results) == std::vector<std::string>(5, "ok"));
  CHECK(store.find(3)->version == 2);
}

TEST_CASE("sqlite: many groups keep the file whole while the WAL is checkpointed") {
  fixture f{which_store::sqlite};
  auto& store = *f.store;
  store.seed(20'000);
  std::vector<caf::error> results;
  for (std::int64_t first = 1; first <= 20'000; first += 500) {
    std::vector<task_envelope> tasks;
    for (auto id = first; id < first + 500; ++id)
      tasks.push_back(task(9, id, "Epic", "Summary of task " + std::to_string(id)));
    store.begin();
    for (auto where : all_stages) {
      store.apply_chunk(where, tasks, results);
      REQUIRE(describe(results) == std::vector<std::string>(tasks.size(), "ok"));
    }
    REQUIRE(reason_of(store.commit()) == "");
  }
  reader db{f};
  CHECK(db.one("PRAGMA integrity_check") == "ok");
  CHECK(db.one("SELECT count(*), min(version), max(version) FROM tasks") == "20000|2|2");
  CHECK(db.one("SELECT count(*) FROM outbox") == "20000");
  f.store.reset();
  auto reopened = sqlite_at(f.file->path);
  CHECK(reopened->counts()->audit_rows == 20'000);
}

TEST_CASE("a batch with far apart ids keeps each retry a no-op") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(200'000);
  // Dense runs, then ids far below and far above them: both the bits and the sparse fallback.
  std::vector<std::int64_t> ids{1000, 1001, 1063, 1064, 5, 199'999, 70'000, 1002, 64, 63};
  for (auto id : ids)
    REQUIRE(is_ok(run_all(store, task(7, id, "Epic", none))));
  for (auto id : ids)
    REQUIRE(is_ok(run_all(store, task(7, id, "Story", none))));  // retries: no-ops
  for (auto id : ids) {
    CHECK(store.find(id)->version == 2);
    CHECK(store.find(id)->type == "Epic");
  }
  CHECK(store.find(1003)->version == 1);
  CHECK(store.find(62)->version == 1);
  auto c = *store.counts();
  CHECK(c.audit_rows == ids.size());
  CHECK(c.applied_updates == ids.size());
  CHECK(c.outbox_rows == ids.size());
}

namespace {

/// A chunk of many tasks (more than one multi-row statement holds) with retries, duplicates and
/// missing ids mixed in.
std::vector<task_envelope> big_chunk(std::int64_t count) {
  std::vector<task_envelope> tasks;
  for (std::int64_t id = 1; id <= count; ++id) {
    if (id % 3 == 0)
      tasks.push_back(task(1, id, "Epic", none));
    else if (id % 3 == 1)
      tasks.push_back(task(1, id, none, "Summary \"" + std::to_string(id) + "\" \\"));
    else
      tasks.push_back(task(1, id, "Bug", "Both " + std::to_string(id)));
    if (id == 50 || id == 120)
      tasks.push_back(task(1, id, "TechTask", none)); // the same (batch and task) right after
    if (id == 90)
      tasks.push_back(task(2, 40, "Story", "Other batch"));
    if (id == 100)
      tasks.push_back(task(1, count + 500, "Epic", none)); // missing
  }
  tasks.push_back(task(1, 7, "Epic", none)); // the same (batch and task) far after
  return tasks;
}

/// Runs every stage of `tasks` in one group; returns each stage's results and the commit's.
std::vector<std::string> run_stages(task_store& store, const std::vector<task_envelope>& tasks,
                                    bool chunked) {
  std::vector<std::string> out;
  store.begin();
  for (auto where : all_stages)
    for (auto& line : describe(run_chunk(store, where, tasks, chunked)))
      out.push_back(std::string{to_string(where)} + " " + line);
  out.push_back("commit " + reason_of(store.commit()));
  return out;
}

} // namespace

TEST_CASE("apply_chunk over many tasks with retries gives the results of apply") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  auto tasks = big_chunk(300);
  fixture chunked{kind};
  fixture single{kind};
  for (auto* f : {&chunked, &single}) {
    f->store->seed(320);
    // Retries: tasks applied before, alone and in runs that cross statement boundaries.
    for (std::int64_t id : {1, 10, 60, 61, 62, 63, 64, 65, 66, 130, 299})
      REQUIRE(is_ok(run_all(*f->store, task(1, id, "Epic", none))));
  }
  CHECK(run_stages(*chunked.store, tasks, true) == run_stages(*single.store, tasks, false));
  CHECK(contents(chunked, 320) == contents(single, 320));
  // The whole chunk again: every task is a retry now.
  CHECK(run_stages(*chunked.store, tasks, true) == run_stages(*single.store, tasks, false));
  CHECK(contents(chunked, 320) == contents(single, 320));
  CHECK(chunked.store->find(64)->version == 2);
  CHECK(chunked.store->find(50)->version == 2); // the same (batch and task) twice: a retry
  CHECK(chunked.store->find(50)->type == "Bug");
  CHECK(chunked.store->find(40)->version == 3); // also in batch 2
  CHECK(chunked.store->find(200)->version == 2);
  CHECK(chunked.store->find(301)->version == 1);
}

TEST_CASE("sqlite: refused rows inside a large chunk fail only their tasks") {
  auto tasks = big_chunk(210);
  fixture chunked{which_store::sqlite};
  fixture single{which_store::sqlite};
  for (auto* f : {&chunked, &single}) {
    f->store->seed(220);
    REQUIRE(is_ok(run_all(*f->store, task(1, 65, "Epic", none)))); // a retry next to a refusal
    reader admin{f->file->path, true};
    admin.exec("CREATE TRIGGER audit_full BEFORE INSERT ON audit WHEN NEW.task_id = 70 "
               "BEGIN SELECT RAISE(ABORT, 'audit full'); END;");
    admin.exec("CREATE TRIGGER tasks_locked BEFORE UPDATE ON tasks WHEN NEW.id IN (3, 140) "
               "BEGIN SELECT RAISE(ABORT, 'task locked'); END;");
    admin.exec("CREATE TRIGGER outbox_full BEFORE INSERT ON outbox WHEN NEW.task_id IN (64, 200) "
               "BEGIN SELECT RAISE(ABORT, 'outbox full'); END;");
  }
  auto got = run_stages(*chunked.store, tasks, true);
  CHECK(got == run_stages(*single.store, tasks, false));
  CHECK(contents(chunked, 220) == contents(single, 220));
  auto count = [&](const std::string& text) {
    return std::count_if(got.begin(), got.end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  };
  CHECK(count("audit full") == 1);
  CHECK(count("task locked") == 2);
  CHECK(count("outbox full") == 2);
  CHECK(got.back() == "commit ");
  CHECK(chunked.store->find(140)->version == 1);
  CHECK(chunked.store->find(139)->version == 2);
  CHECK(chunked.store->find(141)->version == 2);
  reader db{chunked};
  CHECK(db.one("SELECT count(*) FROM applied_updates WHERE task_id IN (3, 140)") == "0");
  CHECK(db.one("SELECT count(*) FROM outbox WHERE task_id IN (64, 200)") == "0");
}

TEST_CASE("sqlite: a rollback inside a large chunk fails its task and the rest of the group") {
  auto on_update = GENERATE(false, true);
  INFO((on_update ? "task update rolls back" : "outbox insert rolls back"));
  std::vector<task_envelope> tasks;
  for (std::int64_t id = 1; id <= 150; ++id)
    tasks.push_back(task(5, id, "Epic", none));
  fixture chunked{which_store::sqlite};
  fixture single{which_store::sqlite};
  for (auto* f : {&chunked, &single}) {
    f->store->seed(160);
    reader admin{f->file->path, true};
    if (on_update)
      admin.exec("CREATE TRIGGER tasks_broken BEFORE UPDATE ON tasks WHEN NEW.id = 100 "
                 "BEGIN SELECT RAISE(ROLLBACK, 'tasks broken'); END;");
    else
      admin.exec("CREATE TRIGGER outbox_broken BEFORE INSERT ON outbox WHEN NEW.task_id = 100 "
                 "BEGIN SELECT RAISE(ROLLBACK, 'outbox broken'); END;");
  }
  auto got = run_stages(*chunked.store, tasks, true);
  CHECK(got == run_stages(*single.store, tasks, false));
  const auto failing = on_update ? stage::update : stage::notify;
  const std::string prefix = std::string{to_string(failing)} + " ";
  std::vector<std::string> of_stage;
  for (const auto& line : got)
    if (line.rfind(prefix, 0) == 0)
      of_stage.push_back(line.substr(prefix.size()));
  REQUIRE(of_stage.size() == 150);
  CHECK(of_stage[98] == "ok");
  CHECK_THAT(of_stage[99], Catch::Contains(on_update ? "tasks broken" : "outbox broken"));
  CHECK_THAT(of_stage[100], Catch::Contains("rolled back"));
  CHECK_THAT(of_stage[149], Catch::Contains("rolled back"));
  CHECK_THAT(got.back(), Catch::Contains("broken"));
  auto c = *chunked.store->counts();
  CHECK(c.audit_rows == 0);
  CHECK(c.applied_updates == 0);
  CHECK(c.outbox_rows == 0);
  CHECK(chunked.store->find(1)->version == 1);
  // The store is usable again once the cause is gone.
  {
    reader admin{chunked.file->path, true};
    admin.exec(on_update ? "DROP TRIGGER tasks_broken" : "DROP TRIGGER outbox_broken");
  }
  auto again = run_stages(*chunked.store, tasks, true);
  CHECK(std::count(again.begin(), again.end(), std::string{"update ok"}) == 150);
  CHECK(again.back() == "commit ");
  CHECK(chunked.store->counts()->outbox_rows == 150);
  CHECK(chunked.store->find(100)->version == 2);
}

namespace {

/// The group a store actor would run: Update for tasks 1..5 of batch 1, then Validate and Audit
/// for tasks 6..10 of batch 2.
std::vector<chunk_work> mixed_group() {
  std::vector<chunk_work> group(3);
  group[0].where = stage::update;
  group[1].where = stage::validate;
  group[2].where = stage::audit;
  for (std::int64_t id = 1; id <= 5; ++id) {
    group[0].tasks.push_back(task(1, id, "Epic", none));
    group[1].tasks.push_back(task(2, id + 5, "Epic", none));
    group[2].tasks.push_back(task(2, id + 5, "Epic", none));
  }
  return group;
}

void exec_on(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  auto rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  std::string why = msg ? msg : "";
  sqlite3_free(msg);
  if (rc != SQLITE_OK)
    throw std::runtime_error("exec failed: " + why);
}

} // namespace

TEST_CASE("sqlite: a transaction SQLite rolled back fails every task of its group") {
  // SQLite rolls a transaction back on its own on I/O errors or out of memory, also during a
  // read; the hook does the same to the store's connection, at the start of Validate's chunk or
  // just before the COMMIT.
  auto during_validate = GENERATE(true, false);
  INFO((during_validate ? "rolled back during validate" : "rolled back before the commit"));
  temp_db_path file;
  bool armed = false;
  sqlite_test_hooks hooks;
  if (during_validate)
    hooks.before_chunk = [&](sqlite3* db, stage where) {
      if (armed && where == stage::validate)
        exec_on(db, "ROLLBACK");
    };
  else
    hooks.before_commit = [&](sqlite3* db) {
      if (armed)
        exec_on(db, "ROLLBACK");
    };
  store_options opts;
  opts.location = file.path.string();
  auto opened = open_sqlite_store(opts, hooks);
  REQUIRE(opened);
  auto& store = **opened;
  REQUIRE_FALSE(store.seed(10));
  armed = true;
  auto group = mixed_group();
  store.run_group(group);
  armed = false;
  for (const auto& work : group) {
    INFO("stage " << to_string(work.where));
    REQUIRE(work.results.size() == work.tasks.size());
    for (const auto& r : work.results) {
      CHECK(kind_of(r) == result_kind::storage_error);
      CHECK_THAT(reason_of(r), Catch::Contains("rolled back"));
    }
  }
  // Nothing of the group is in the store: not the writes before the rollback, nor after it.
  auto c = *store.counts();
  CHECK(c.audit_rows == 0);
  CHECK(c.applied_updates == 0);
  CHECK(store.find(1)->version == 1);
  // The next group commits.
  group = mixed_group();
  store.run_group(group);
  for (const auto& work : group)
    CHECK(describe(work.results) == std::vector<std::string>(5, "ok"));
  CHECK(store.find(1)->version == 2);
  CHECK(store.counts()->audit_rows == 5);
}

TEST_CASE("sqlite: a group blocked by another writer fails with storage_error and the reason") {
  temp_db_path file;
  store_options opts;
  opts.location = file.path.string();
  opts.busy_timeout = std::chrono::milliseconds{50};
  auto store = open_sqlite_store(opts);
  REQUIRE(store);
  REQUIRE_FALSE((*store)->seed(10));
  reader other{file.path, true};
  other.exec("BEGIN IMMEDIATE"); // holds the write lock
  auto group = mixed_group();
  (*store)->run_group(group);
  for (const auto& work : group)
    for (const auto& r : work.results) {
      CHECK(kind_of(r) == result_kind::storage_error);
      CHECK_THAT(reason_of(r), Catch::Contains("database is locked"));
    }
  CHECK((*store)->find(1)->version == 1);
  other.exec("COMMIT");
  group = mixed_group();
  (*store)->run_group(group);
  for (const auto& work : group)
    CHECK(describe(work.results) == std::vector<std::string>(5, "ok"));
  CHECK((*store)->find(1)->version == 2);
}

TEST_CASE("sqlite: synchronous is FULL by default and NORMAL with durability normal, "
          "secure_delete FAST") {
  auto sync = GENERATE(durability::full, durability::normal);
  temp_db_path file;
  int seen = -1;
  int secure_delete = -1;
  sqlite_test_hooks hooks;
  hooks.opened = [&](sqlite3* db) {
    auto pragma = [db](const char* sql) {
      sqlite3_stmt* s = nullptr;
      int value = -1;
      REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
      if (sqlite3_step(s) == SQLITE_ROW)
        value = sqlite3_column_int(s, 0);
      sqlite3_finalize(s);
      return value;
    };
    seen = pragma("PRAGMA synchronous");
    // Debian's SQLite zeroes freed pages (SECURE_DELETE): FAST (2) keeps a finished batch's
    // journal blob from being written a second time.
    secure_delete = pragma("PRAGMA secure_delete");
  };
  store_options opts;
  opts.location = file.path.string();
  if (sync == durability::normal)
    opts.sync = durability::normal;
  auto store = open_sqlite_store(opts, hooks);
  REQUIRE(store);
  CHECK(seen == (sync == durability::full ? 2 : 1));
  CHECK(secure_delete == 2);
  reader db{file.path};
  CHECK(db.one("PRAGMA journal_mode") == "wal");
}

// -- PostgreSQL only -------------------------------------------------------------------------------

TEST_CASE("postgres: a bad URI, an unreachable server or a refused login fails naming why") {
  store_options opts;
  opts.kind = store_kind::postgres;
  SECTION("a URI libpq cannot parse") {
    opts.location = "postgresql://[broken";
    auto store = open_store(opts);
    REQUIRE_FALSE(store);
    CHECK(code_of(store.error()) == failure_code::storage_error);
    CHECK_THAT(reason_of(store.error()), Catch::Contains("cannot connect to PostgreSQL"));
  }
  SECTION("nothing listens there") {
    opts.location = "postgresql://postgres@127.0.0.1:1/postgres";
    auto store = open_store(opts);
    REQUIRE_FALSE(store);
    CHECK_THAT(reason_of(store.error()), Catch::Contains("postgres@127.0.0.1:1/postgres"));
    CHECK_THAT(reason_of(store.error()), Catch::Contains("refused"));
  }
  SECTION("a role the server does not know") {
    auto uri = postgres_uri();
    opts.location = "postgresql://no_such_role@" + uri.substr(uri.find('@') + 1);
    auto store = open_store(opts);
    REQUIRE_FALSE(store);
    CHECK_THAT(reason_of(store.error()), Catch::Contains("no_such_role"));
    CHECK_THAT(reason_of(store.error()), Catch::Contains("does not exist"));
  }
}

TEST_CASE("postgres: the tables are created once with the schema version, another is refused") {
  fixture f{which_store::postgres};
  reader db{f};
  CHECK(db.one("SELECT version FROM taskpipe_schema") == "3");
  f.store->seed(3);
  // A second store (another node) on the same database keeps what is there.
  auto second = postgres_at(*f.schema);
  CHECK(second->counts()->tasks == 3);
  CHECK(db.one("SELECT count(*) FROM taskpipe_schema") == "1");
  db.exec("UPDATE taskpipe_schema SET version = 99");
  store_options opts;
  opts.kind = store_kind::postgres;
  opts.location = f.schema->conninfo();
  auto refused = open_store(opts);
  REQUIRE_FALSE(refused);
  CHECK_THAT(reason_of(refused.error()), Catch::Contains("schema version 99"));
  CHECK_THAT(reason_of(refused.error()), Catch::Contains("reads version 3"));
}

TEST_CASE("postgres: a statement the server refuses fails the whole group with its reason") {
  fixture f{which_store::postgres};
  auto& store = *f.store;
  store.seed(10);
  reader admin{f};
  admin.exec("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN RAISE EXCEPTION 'outbox full'; END$$");
  admin.exec("CREATE TRIGGER outbox_full BEFORE INSERT ON outbox FOR EACH ROW "
             "WHEN (NEW.task_id = 7) EXECUTE FUNCTION refuse()");
  std::vector<task_envelope> tasks;
  for (std::int64_t id = 5; id <= 9; ++id)
    tasks.push_back(task(3, id, "Epic", none));
  std::vector<chunk_work> group;
  for (auto where : {stage::validate, stage::audit, stage::update, stage::notify})
    group.push_back(chunk_work{where, tasks, {}});
  store.run_group(group);
  for (auto& work : group) {
    INFO("stage: " << to_string(work.where));
    REQUIRE(work.results.size() == 5);
    for (auto& r : work.results) {
      CHECK(kind_of(r) == result_kind::storage_error);
      CHECK_THAT(reason_of(r), Catch::Contains(std::string{to_string(work.where)}
                                               + " commit failed: outbox full"));
    }
  }
  CHECK_THAT(reason_of(group.back().results[0]), Catch::Contains("the update was applied"));
  auto c = *store.counts();
  CHECK(c.audit_rows == 0); // nothing of the group was committed
  CHECK(c.applied_updates == 0);
  CHECK(store.find(7)->version == 1);
  // The store stays usable; once the cause is gone the same group completes.
  admin.exec("DROP TRIGGER outbox_full ON outbox");
  for (auto& work : group)
    work.results.clear();
  store.run_group(group);
  for (auto& work : group)
    CHECK(describe(work.results) == std::vector<std::string>(5, "ok"));
  CHECK(store.find(7)->version == 2);
  CHECK(store.counts()->outbox_rows == 5);
}

TEST_CASE("postgres: a group runs on a new connection after the server ended the old one") {
  fixture f{which_store::postgres};
  auto& store = *f.store;
  store.seed(10);
  reader admin{f};
  auto terminate = [&] {
    CHECK(admin.one("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = '" + f.schema->name + "'")
          == "1");
  };
  terminate();
  std::vector<task_envelope> tasks{task(4, 1, "Epic", none), task(4, 2, none, "Two")};
  std::vector<chunk_work> group{chunk_work{stage::validate, tasks, {}},
                                chunk_work{stage::update, tasks, {}}};
  store.run_group(group);
  for (auto& work : group)
    CHECK(describe(work.results) == std::vector<std::string>(2, "ok"));
  CHECK(store.find(2)->summary == "Two");
  terminate();
  CHECK(store.find(1)->version == 2); // reads reconnect too
  terminate();
  CHECK(store.counts()->applied_updates == 2);
}

TEST_CASE("postgres: two stores on one database apply a task once between them") {
  fixture f{which_store::postgres};
  auto other = postgres_at(*f.schema);
  f.store->seed(100);
  std::vector<task_envelope> tasks;
  for (std::int64_t id = 1; id <= 100; ++id)
    tasks.push_back(task(8, id, "Epic", "Once " + std::to_string(id)));
  // Node A updates the batch; node B replays it (a failover): B's Update is a no-op.
  for (auto* store : {f.store.get(), other.get()}) {
    std::vector<chunk_work> group;
    for (auto where : all_stages)
      group.push_back(chunk_work{where, tasks, {}});
    store->run_group(group);
    for (auto& work : group)
      CHECK(describe(work.results) == std::vector<std::string>(100, "ok"));
  }
  CHECK(other->find(50)->version == 2);
  CHECK(f.store->find(50)->summary == "Once 50");
  auto c = *other->counts();
  CHECK(c.audit_rows == 100);
  CHECK(c.applied_updates == 100);
  CHECK(c.outbox_rows == 100);
}

TEST_CASE("update: the batch accepted last wins whatever order the writes arrive in") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  auto chunked = GENERATE(false, true);
  INFO("store: " << name_of(kind) << (chunked ? " (chunks)" : " (one by one)"));
  fixture f{kind};
  auto& store = *f.store;
  store.seed(10);
  // Batches 7 (accepted first) and 8 both audit tasks 2..4 while they are as seeded; batch 8
  // reaches Update first.
  std::vector<task_envelope> older{task(7, 2, "Epic", "Older"), task(7, 3, "Epic", "Older"),
                                   task(7, 4, "Epic", "Older")};
  std::vector<task_envelope> newer{task(8, 2, none, "Newer"), task(8, 3, none, "Newer"),
                                   task(8, 4, none, "Newer")};
  auto apply = [&](stage where, const std::vector<task_envelope>& tasks) {
    store.begin();
    auto got = run_chunk(store, where, tasks, chunked);
    REQUIRE(reason_of(store.commit()) == "");
    for (const auto& r : got)
      CHECK(is_ok(r));
  };
  apply(stage::audit, older);
  apply(stage::audit, newer);
  apply(stage::update, newer);
  apply(stage::update, older); // lost the race: superseded, the task stays as batch 8 left it
  apply(stage::update, older); // and a retry of it changes nothing either
  for (std::int64_t id = 2; id <= 4; ++id) {
    auto t = store.find(id);
    CHECK(t->summary == "Newer");
    CHECK(t->type == "Story");
    CHECK(t->version == 2);
  }
  CHECK(store.counts()->applied_updates == 6);
  CHECK(*store.last_batch() == 8u);
  if (f.has_sql()) {
    reader db{f};
    CHECK(db.rows("SELECT batch_id, version, coalesce(superseded_by, '-') FROM applied_updates "
                  "WHERE task_id = 3 ORDER BY batch_id")
          == std::vector<std::string>{batch_id_text(7) + "|2|" + batch_id_text(8),
                                      batch_id_text(8) + "|2|-"});
  }

  SECTION("an older batch applied first is overwritten, and the audit shows the true old values") {
    std::vector<task_envelope> first{task(9, 6, "Epic", "First"), task(9, 7, "Epic", "First")};
    std::vector<task_envelope> second{task(10, 6, none, "Second"), task(10, 7, none, "Second")};
    apply(stage::audit, first);
    apply(stage::audit, second); // reads the seeded values: batch 9 has not applied yet
    apply(stage::update, first);
    apply(stage::update, second);
    apply(stage::update, second); // a retry must not touch the audit row again
    for (std::int64_t id = 6; id <= 7; ++id) {
      auto t = store.find(id);
      CHECK(t->summary == "Second");
      CHECK(t->type == "Epic");
      CHECK(t->version == 3);
    }
    if (f.has_sql()) {
      reader db{f};
      CHECK(db.rows("SELECT old_type, old_summary, new_summary FROM audit WHERE batch_id = '"
                    + batch_id_text(10) + "' ORDER BY task_id")
            == std::vector<std::string>{"Epic|First|Second", "Epic|First|Second"});
      CHECK(db.rows("SELECT old_type, old_summary FROM audit WHERE batch_id = '"
                    + batch_id_text(9) + "' ORDER BY task_id")
            == std::vector<std::string>{"Story|Task 6", "Story|Task 7"});
    }
  }
}

TEST_CASE("last_batch is the largest batch number the store holds rows of") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  f.store->seed(3);
  CHECK(*f.store->last_batch() == 0);
  REQUIRE(is_ok(run_all(*f.store, task(41, 1, "Epic", none))));
  REQUIRE(is_ok(run_all(*f.store, task(12, 2, "Epic", none))));
  CHECK(*f.store->last_batch() == 41);
  if (f.is_sqlite()) {
    auto path = f.file->path;
    f.store.reset();
    CHECK(*sqlite_at(path)->last_batch() == 41);
  }
  if (f.kind == which_store::postgres) {
    f.store.reset();
    CHECK(*postgres_at(*f.schema)->last_batch() == 41);
  }
}

// -- the batch journal (store/journal.hpp) -------------------------------------------------------

namespace {

journaled_batch journaled(std::uint64_t number, std::string key = {}) {
  journaled_batch b;
  b.batch = number;
  b.admitted_ms = 1'000'000 + static_cast<std::int64_t>(number);
  b.deadline_ms = b.admitted_ms + 60'000;
  b.idempotency_key = std::move(key);
  b.body_digest = b.idempotency_key.empty() ? "" : "digest-" + std::to_string(number);
  b.tasks = {task_update{1, std::string{"Epic"}, std::string{"one"}},
             task_update{2, none, std::string{"two \"quoted\""}},
             task_update{3, std::string{""}, none}, task_update{1, none, none}};
  return b;
}

} // namespace

TEST_CASE("journaled batches are unfinished until their outcome is recorded") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& s = *f.store;
  s.seed(5);
  REQUIRE(reason_of(s.journal({journaled(7, "key-7"), journaled(8)})) == "");
  CHECK(*s.last_batch() == 8);
  REQUIRE(is_ok(run_all(s, task(7, 1, "Epic", "one"))));
  // task 2 applied, not notified
  s.begin();
  for (auto where : {stage::validate, stage::audit, stage::update})
    REQUIRE(is_ok(s.apply(where, task(7, 2, none, "two"))));
  REQUIRE(reason_of(s.commit()) == "");
  auto found = s.unfinished_batches();
  REQUIRE(found);
  REQUIRE(found->batches.size() == 2);
  const auto& r = found->batches.front();
  CHECK(r.admitted.batch == 7);
  CHECK(r.admitted.deadline_ms == r.admitted.admitted_ms + 60'000);
  CHECK(r.admitted.idempotency_key == "key-7");
  REQUIRE(r.admitted.tasks.size() == 4);
  CHECK(r.admitted.tasks[1].summary == std::string{"two \"quoted\""});
  CHECK(r.admitted.tasks[2].type == std::string{""});
  CHECK_FALSE(r.admitted.tasks[3].type);
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
  CHECK(s.journal({journaled(9), journaled(10, "key-7")}));
  CHECK(s.journal({journaled(8)}));
  CHECK(s.unfinished_batches()->batches.size() == 2);
  // A cancel is recorded; a finish ends it.
  REQUIRE(reason_of(s.record_outcomes({batch_outcome{8, batch_state::cancelled, 0, 0, 0, {}}}))
          == "");
  auto again = s.unfinished_batches();
  REQUIRE(again->batches.size() == 2);
  CHECK(again->batches.back().cancelled);
  CHECK(code_of(s.finished_report(7).error()) == failure_code::not_found);
  std::vector<task_failure> failures{
    {7, 3, 1, stage::validate, failure_code::duplicate_in_batch, "task 1 appeared earlier"},
    {7, 2, 3, stage::validate, failure_code::invalid_type, "type \"\" is not one of {a, b}"},
    {7, 1, 2, stage::notify, failure_code::timeout, "deadline (the update was applied)"}};
  batch_outcome done{7, batch_state::done, unix_now_ms(), 12.345678901, 1, failures};
  REQUIRE(reason_of(s.record_outcomes({done})) == "");
  REQUIRE(reason_of(s.record_outcomes({done})) == ""); // recording it again changes nothing
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
  CHECK(report->elapsed_ms == 12.345678901);
  REQUIRE(report->failures.size() == 3);
  // Sorted by id, then position.
  CHECK(report->failures[0].id == 1);
  CHECK(report->failures[0].code == failure_code::duplicate_in_batch);
  CHECK(report->failures[0].batch == 7);
  CHECK(report->failures[1].id == 2);
  CHECK(report->failures[1].where == stage::notify);
  CHECK(report->failures[1].reason == "deadline (the update was applied)");
  CHECK(report->failures[2].id == 3);
  CHECK(report->failures[2].index == 2);
  CHECK(report->failures[2].reason == "type \"\" is not one of {a, b}");
  // The key outlives the finish.
  CHECK(s.find_idempotency_key("key-7")->batch == 7);
  if (f.has_sql()) {
    reader db{f};
    CHECK(db.one("SELECT count(*) FROM batch_failures") == "3");
    CHECK(db.rows("SELECT batch_id, state, coalesce(length(tasks), -1) FROM batches ORDER BY "
                  "number")
          == std::vector<std::string>{batch_id_text(7) + "|done|-1",
                                      batch_id_text(8) + "|running|"
                                        + std::to_string(encode_tasks(journaled(8).tasks).size())});
  }
}

TEST_CASE("a store numbers batches only where several fronts share it (PostgreSQL)") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  std::vector<journaled_batch> two{journaled(0), journaled(0)};
  if (kind != which_store::postgres) {
    CHECK_FALSE(f.store->numbers_batches());
    CHECK(f.store->number_batches(two));
    return;
  }
  CHECK(f.store->numbers_batches());
  f.store->seed(3);
  REQUIRE(is_ok(run_all(*f.store, task(41, 1, "Epic", none)))); // numbered by a front of old
  // A store opened on the database starts the sequence after every number it holds.
  auto other = postgres_at(*f.schema);
  REQUIRE(reason_of(other->number_batches(two)) == "");
  CHECK(two[0].batch == 42);
  CHECK(two[1].batch == 43);
  // Both stores (two fronts) draw from the one sequence, in the order they ask.
  std::vector<journaled_batch> one{journaled(0)};
  REQUIRE(reason_of(f.store->number_batches(one)) == "");
  CHECK(one[0].batch == 44);
  REQUIRE(reason_of(other->number_batches(one)) == "");
  CHECK(one[0].batch == 45);
  // Numbers handed out are never handed out again, even when their batch was not journaled.
  auto third = postgres_at(*f.schema);
  REQUIRE(reason_of(third->number_batches(one)) == "");
  CHECK(one[0].batch == 46);
  REQUIRE(reason_of(third->journal(one)) == "");
  CHECK(*other->last_batch() == 46);
}

TEST_CASE("postgres: the journal survives reopening the store and a lost connection") {
  fixture f{which_store::postgres};
  f.store->seed(3);
  reader admin{f};
  auto terminate = [&] {
    CHECK(admin.one("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = '" + f.schema->name + "'")
          == "1");
  };
  terminate(); // the server ended the idle connection: the write runs on a new one
  REQUIRE(reason_of(f.store->journal({journaled(3, "k")})) == "");
  terminate();
  REQUIRE(reason_of(f.store->record_outcomes({batch_outcome{3, batch_state::cancelled, 0, 0, 0,
                                                            {}}}))
          == "");
  f.store.reset();
  auto s = postgres_at(*f.schema);
  auto found = s->unfinished_batches();
  REQUIRE(found);
  REQUIRE(found->batches.size() == 1);
  CHECK(found->batches.front().admitted.tasks.size() == 4);
  CHECK(found->batches.front().cancelled);
  CHECK(*s->last_batch() == 3);
  CHECK(s->find_idempotency_key("k")->batch == 3);
}

TEST_CASE("postgres: a database of schema version 1 is upgraded in place") {
  fixture f{which_store::postgres};
  f.store->seed(3);
  REQUIRE(is_ok(run_all(*f.store, task(9, 1, "Epic", none))));
  f.store.reset();
  reader db{f};
  db.exec("DROP TABLE batches, batch_failures");
  db.exec("DROP SEQUENCE taskpipe_batch_numbers");
  db.exec("UPDATE taskpipe_schema SET version = 1");
  auto s = postgres_at(*f.schema);
  CHECK(db.one("SELECT version FROM taskpipe_schema") == "3");
  std::vector<journaled_batch> one{journaled(0)};
  REQUIRE(reason_of(s->number_batches(one)) == "");
  CHECK(one[0].batch == 10);
  REQUIRE(reason_of(s->journal(one)) == "");
  CHECK(s->unfinished_batches()->batches.size() == 1);
  CHECK(s->find(1)->version == 2);
}

TEST_CASE("postgres: a database whose applied_updates an earlier version keyed by task is upgraded") {
  fixture f{which_store::postgres};
  f.store->seed(2);
  f.store.reset();
  reader db{f};
  auto b = [](std::uint64_t n) { return "'" + batch_id_text(n) + "'"; };
  // Version 2's layout: applied_updates keyed task first, no task_order.
  db.exec("DROP TABLE task_order, applied_updates");
  db.exec("CREATE TABLE applied_updates(batch_id text COLLATE \"C\" NOT NULL, task_id bigint NOT "
          "NULL, version bigint NOT NULL, at text NOT NULL, superseded_by text COLLATE \"C\", "
          "PRIMARY KEY(task_id, batch_id))");
  db.exec("UPDATE tasks SET type = 'Epic', summary = 'By 5', version = 3 WHERE id = 1");
  db.exec("INSERT INTO applied_updates VALUES(" + b(4) + ", 1, 2, 'x', NULL), (" + b(5)
          + ", 1, 3, 'x', NULL)");
  db.exec("UPDATE taskpipe_schema SET version = 2");
  auto s = postgres_at(*f.schema);
  // Keyed batch first, every row kept, each task's newest batch known.
  CHECK(db.one("SELECT version FROM taskpipe_schema") == "3");
  CHECK(db.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
               "'applied_updates'::regclass AND contype = 'p'")
        == "PRIMARY KEY (batch_id, task_id)");
  CHECK(db.one("SELECT count(*) FROM applied_updates") == "2");
  CHECK(db.rows("SELECT task_id, batch_id FROM task_order")
        == std::vector<std::string>{"1|" + batch_id_text(5)});
  // Per-key order goes on from what the database held: batch 3 is older than task 1's newest.
  REQUIRE(is_ok(run_all(*s, task(3, 1, "Story", "By 3"))));
  CHECK(s->find(1)->summary == "By 5");
  CHECK(db.one("SELECT superseded_by FROM applied_updates WHERE batch_id = " + b(3))
        == batch_id_text(5));
  REQUIRE(is_ok(run_all(*s, task(6, 1, "Story", "By 6"))));
  CHECK(s->find(1)->summary == "By 6");
  CHECK(s->find(1)->version == 4);
  CHECK(db.one("SELECT batch_id FROM task_order WHERE task_id = 1") == batch_id_text(6));
  // A second start finds version 3 and changes nothing.
  auto again = postgres_at(*f.schema);
  CHECK(db.one("SELECT count(*) FROM task_order") == "1");
}

TEST_CASE("postgres: a front resumes the unfinished batches of fronts that are gone, not others'") {
  fixture f{which_store::postgres};
  auto b = postgres_at(*f.schema); // another front, running
  REQUIRE(reason_of(f.store->journal({journaled(5)})) == "");
  REQUIRE(reason_of(b->journal({journaled(6)})) == "");
  auto mine = [](task_store& s) {
    std::vector<std::uint64_t> numbers;
    auto found = s.unfinished_batches();
    REQUIRE(found);
    for (auto& r : found->batches)
      numbers.push_back(r.admitted.batch);
    return numbers;
  };
  CHECK(mine(*f.store) == std::vector<std::uint64_t>{5});
  CHECK(mine(*b) == std::vector<std::uint64_t>{6});
  // The server ends a closed connection's session (and its lock) a moment after the close.
  auto eventually = [&](task_store& s, const std::vector<std::uint64_t>& expected) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    auto got = mine(s);
    while (got != expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
      got = mine(s);
    }
    return got;
  };
  f.store.reset(); // the first front is gone: a front starting now takes its batch over
  auto c = postgres_at(*f.schema);
  CHECK(eventually(*c, {5}) == std::vector<std::uint64_t>{5});
  CHECK(mine(*b) == std::vector<std::uint64_t>{6});
  b.reset();
  CHECK(eventually(*c, {5, 6}) == (std::vector<std::uint64_t>{5, 6}));
}

// Retention and failure pages on PostgreSQL (memory and SQLite: journal_test.cpp).
namespace {

void finish_with_failures(task_store& s, std::uint64_t number, std::size_t n,
                          std::int64_t finished_ms, std::string key = {}) {
  REQUIRE(reason_of(s.journal({journaled(number, std::move(key))})) == "");
  std::vector<task_failure> failures;
  for (std::size_t i = 0; i < n; ++i)
    failures.push_back(task_failure{number, static_cast<std::uint32_t>(i),
                                    static_cast<std::int64_t>(1 + i / 2), stage::validate,
                                    failure_code::not_found, "reason " + std::to_string(i)});
  std::shuffle(failures.begin(), failures.end(), std::mt19937{42});
  REQUIRE(reason_of(s.record_outcomes(
            {batch_outcome{number, batch_state::done, finished_ms, 1.5, 0, std::move(failures)}}))
          == "");
}

} // namespace

TEST_CASE("failure pages hold every failure once, in order, and never split one id") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& s = *f.store;
  finish_with_failures(s, 4, 2'001, unix_now_ms());
  std::vector<std::uint32_t> seen;
  std::int64_t after = 0;
  std::int64_t last_id = 0;
  for (int pages = 0;; ++pages) {
    REQUIRE(pages < 100);
    auto page = s.failures_after(4, after, 150);
    REQUIRE(page);
    CHECK(page->batch_id == batch_id_text(4));
    CHECK(page->failures.size() <= 151);
    for (const auto& x : page->failures) {
      CHECK(x.id >= last_id); // sorted
      CHECK(x.id > after);
      last_id = x.id;
      seen.push_back(x.index);
    }
    if (!page->more)
      break;
    CHECK(page->failures.size() >= 150);
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

TEST_CASE("expired batches are gone at once, purged in slices, and their keys are free") {
  auto kind = GENERATE(which_store::memory, which_store::sqlite, which_store::postgres);
  INFO("store: " << name_of(kind));
  fixture f{kind};
  auto& s = *f.store;
  s.set_retention(std::chrono::hours{1});
  auto now = unix_now_ms();
  finish_with_failures(s, 1, 250, now - 3 * 3'600'000, "old-key"); // expired
  finish_with_failures(s, 2, 10, now - 2 * 3'600'000);             // expired
  finish_with_failures(s, 3, 10, now - 60'000, "new-key");         // kept
  REQUIRE(reason_of(s.journal({journaled(5)})) == "");             // running: kept
  for (std::uint64_t gone : {1, 2}) {
    CHECK(code_of(s.finished_report(gone).error()) == failure_code::not_found);
    CHECK(code_of(s.failures_after(gone, 0, 10).error()) == failure_code::not_found);
  }
  CHECK(s.find_idempotency_key("old-key")->batch == 0);
  CHECK(s.find_idempotency_key("new-key")->batch == 3);
  // The expired batch's key may be used again before the purge ran.
  REQUIRE(reason_of(s.journal({journaled(6, "old-key")})) == "");
  CHECK(s.find_idempotency_key("old-key")->batch == 6);
  // Slices of about 100 rows until nothing expired is left (the memory store purges at once).
  int rounds = 0;
  for (;;) {
    auto more = s.purge_expired(100);
    REQUIRE(more);
    ++rounds;
    REQUIRE(rounds < 20);
    if (!*more)
      break;
  }
  if (f.has_sql())
    CHECK(rounds >= 3);
  CHECK(s.finished_report(3));
  if (kind == which_store::postgres)
    CHECK(s.finished_report(3)->finished_ms == now - 60'000);
  CHECK(s.failures_after(3, 0, 100)->failures.size() == 10);
  CHECK(s.unfinished_batches()->batches.size() == 2); // 5 and 6
  CHECK(s.find_idempotency_key("old-key")->batch == 6);
  CHECK_FALSE(*s.purge_expired(100));
  if (f.has_sql()) { // the rows are gone from both journal tables
    reader db{f};
    CHECK(db.one("SELECT count(*) FROM batches WHERE number IN (1, 2)") == "0");
    CHECK(db.one("SELECT count(*) FROM batch_failures") == "10");
  }
}

