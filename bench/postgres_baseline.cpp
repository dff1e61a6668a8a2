// postgres_baseline CONNINFO TASKS [--connections=N]: the least a client can do for taskpipe's
// store work on PostgreSQL, to compare `taskpipe run --store=postgres --latency=zero` with
// (bench/postgres_bench.sh). It issues the same prepared statements as the store
// (store/postgres/schema.cpp), chunk by chunk of 1,024 tasks (taskpipe's chunk size), all four
// stages of a chunk (Update's row lock and its statement, as the store sends them) in one
// transaction sent as one libpq pipeline, with nothing else around it: no actors, no messages, no
// results routed back to tasks. The database gets the tables and tasks 1..TASKS from the store
// itself (open_postgres_store + seed) before the clock starts. Prints one JSON object.
//
// --connections=N (default 1): N threads, each with a connection of its own, each running a
// contiguous share of the chunks (disjoint task ids: no row lock waits on another), so that the
// figure at N > 1 is what this PostgreSQL server does with these statements at best when
// several server processes write at once: the ceiling for any client, taskpipe included.
#include "store/postgres/postgres_store.hpp"
#include "store/postgres/schema.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
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

constexpr long long chunk = 1024;

const char* const stages[] = {postgres::stmt::validate, postgres::stmt::audit,
                              postgres::stmt::update_lock, postgres::stmt::update,
                              postgres::stmt::notify};

PGconn* connect_prepared(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK)
    die("connect", c);
  expect_ok(c, PQexec(c, postgres::planner_settings_sql), "settings"); // as the store does
  for (const char* name : stages)
    expect_ok(c, PQprepare(c, name, postgres::statement_sql(name), 0, nullptr), name);
  return c;
}

/// Tasks first..last (whole chunks from `first`), each chunk one transaction in one pipeline.
void run_chunks(PGconn* c, long long first_task, long long last_task) {
  const std::string batch = batch_id_text(0x5eed);
  std::string ids, batches, types, summaries;
  for (long long first = first_task; first <= last_task; first += chunk) {
    auto last = std::min(last_task, first + chunk - 1);
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
}

} // namespace

int main(int argc, char** argv) {
  long long connections = 1;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--connections="))
      connections = std::atoll(argv[i] + std::string_view{"--connections="}.size());
    else
      args.emplace_back(arg);
  }
  if (args.size() != 2 || connections < 1) {
    std::fprintf(stderr, "usage: postgres_baseline CONNINFO TASKS [--connections=N]\n");
    return 2;
  }
  const std::string& conninfo = args[0];
  auto tasks = std::atoll(args[1].c_str());
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
  // Every connection is open and prepared before the clock starts (as with one connection).
  std::vector<PGconn*> conns;
  for (long long i = 0; i < connections; ++i)
    conns.push_back(connect_prepared(conninfo));
  auto chunks = (tasks + chunk - 1) / chunk;
  std::barrier start_line{static_cast<std::ptrdiff_t>(connections + 1)};
  std::vector<std::thread> writers;
  for (long long i = 0; i < connections; ++i)
    writers.emplace_back([&, i] {
      start_line.arrive_and_wait();
      auto first = chunks * i / connections * chunk + 1;
      auto last = std::min(tasks, chunks * (i + 1) / connections * chunk);
      run_chunks(conns[static_cast<std::size_t>(i)], first, last);
    });
  start_line.arrive_and_wait();
  auto start = std::chrono::steady_clock::now();
  for (auto& w : writers)
    w.join();
  auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  for (auto* c : conns)
    PQfinish(c);
  std::printf("{\"tasks\":%lld,\"connections\":%lld,\"elapsed_ms\":%.1f,\"tasks_per_s\":%.1f}\n",
              tasks, connections, elapsed.count(),
              elapsed.count() > 0 ? static_cast<double>(tasks) * 1000.0 / elapsed.count() : 0.0);
  return 0;
}
