// postgres_baseline CONNINFO TASKS: the least a client can do for taskpipe's store work on
// PostgreSQL, to compare `taskpipe run --store=postgres --latency=zero` with (bench/postgres_bench.sh).
// It issues the same prepared statements as the store (store/postgres/schema.cpp), chunk by
// chunk of 1,024 tasks (taskpipe's chunk size), all four stages of a chunk (Update's row lock
// and its statement, as the store sends them) in one transaction sent as one libpq pipeline, on
// one connection, with nothing else around it: no actors, no messages, no results routed back to
// tasks. The database gets the tables and tasks 1..TASKS from the store
// itself (open_postgres_store + seed) before the clock starts. Prints one JSON object.
#include "store/postgres/postgres_store.hpp"
#include "store/postgres/schema.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

using namespace taskpipe;

namespace {

[[noreturn]] void die(const std::string& what, PGconn* c) {
  std::fprintf(stderr, "postgres_baseline: %s: %s\n", what.c_str(), c ? PQerrorMessage(c) : "");
  std::exit(1);
}

void expect_ok(PGconn* c, PGresult* r, const char* what) {
  auto status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_PIPELINE_SYNC)
    die(std::string{what} + ": " + PQresultErrorMessage(r), c);
  PQclear(r);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: postgres_baseline CONNINFO TASKS\n");
    return 2;
  }
  std::string conninfo = argv[1];
  auto tasks = std::atoll(argv[2]);
  {
    store_options opts;
    opts.kind = store_kind::postgres;
    opts.location = conninfo;
    auto store = open_postgres_store(opts);
    if (!store || (*store)->seed(tasks)) {
      std::fprintf(stderr, "postgres_baseline: cannot prepare the database\n");
      return 1;
    }
  }
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK)
    die("connect", c);
  expect_ok(c, PQexec(c, "SET plan_cache_mode = force_generic_plan"), "SET"); // as the store does
  const char* stages[] = {postgres::stmt::validate, postgres::stmt::audit,
                          postgres::stmt::update_lock, postgres::stmt::update,
                          postgres::stmt::notify};
  for (const char* name : stages)
    expect_ok(c, PQprepare(c, name, postgres::statement_sql(name), 0, nullptr), name);

  constexpr long long chunk = 1024;
  const std::string batch = batch_id_text(0x5eed);
  auto start = std::chrono::steady_clock::now();
  std::string ids, batches, types, summaries;
  for (long long first = 1; first <= tasks; first += chunk) {
    auto last = std::min(tasks, first + chunk - 1);
    ids = "{";
    batches = "{";
    types = "{";
    summaries = "{";
    for (auto id = first; id <= last; ++id) {
      const char* sep = id == first ? "" : ",";
      ids += sep + std::to_string(id);
      batches += sep + batch;
      types += sep;
      types += "\"Epic\"";
      summaries += sep;
      summaries += "\"Updated " + std::to_string(id) + "\"";
    }
    ids += '}';
    batches += '}';
    types += '}';
    summaries += '}';
    auto now = utc_text(unix_now_ms());
    const char* validate_params[] = {ids.c_str()};
    const char* write_params[] = {batches.c_str(), ids.c_str(), types.c_str(), summaries.c_str(),
                                  now.c_str()};
    if (PQenterPipelineMode(c) == 0)
      die("pipeline mode", c);
    PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
    for (const char* name : stages) {
      bool ids_only = name == postgres::stmt::validate || name == postgres::stmt::update_lock;
      PQsendQueryPrepared(c, name, ids_only ? 1 : 5, ids_only ? validate_params : write_params,
                          nullptr, nullptr, 0);
    }
    PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0);
    PQpipelineSync(c);
    for (std::size_t q = 0; q < std::size(stages) + 2; ++q) {
      expect_ok(c, PQgetResult(c), "statement");
      if (PQgetResult(c) != nullptr)
        die("unexpected result", c);
    }
    expect_ok(c, PQgetResult(c), "sync");
    if (PQexitPipelineMode(c) == 0)
      die("pipeline mode", c);
  }
  auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  PQfinish(c);
  std::printf("{\"tasks\":%lld,\"elapsed_ms\":%.1f,\"tasks_per_s\":%.1f}\n", tasks, elapsed.count(),
              elapsed.count() > 0 ? static_cast<double>(tasks) * 1000.0 / elapsed.count() : 0.0);
  return 0;
}
