// `taskpipe serve` as a real process on a free loopback port, driven by a real HTTP client:
// every whole-request error row of the contract, every per-task failure code, wait=false with
// GET and DELETE, tasks read back, /metrics, the API token, SIGTERM drain, disconnects, and
// 1,000 concurrent waiting clients. The store is checked afterwards, with the truthful-report
// invariant (tests/support/invariant_checker.hpp) where the store is a SQLite file.
#include "invariant_checker.hpp"
#include "support/http_client.hpp"
#include "support/serve_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <sys/wait.h>

using namespace taskpipe::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

void check_error(const http_response& r, int status, const std::string& code,
                 const std::string& needle) {
  INFO("status " << r.status << " body " << r.body << " error " << r.error);
  REQUIRE(r.status == status);
  auto j = json::parse(r.body);
  CHECK(j["error"] == code);
  CHECK(j["detail"].get<std::string>().find(needle) != std::string::npos);
}

std::string tasks_body(std::int64_t first, std::int64_t last, const std::string& extra = "") {
  std::string body = R"({"tasks":[)";
  for (auto id = first; id <= last; ++id)
    body += (id > first ? "," : "") + std::string{R"({"id":)"} + std::to_string(id)
            + R"(,"type":"Epic","summary":"Updated )" + std::to_string(id) + "\"}";
  return body + "]" + extra + "}";
}

struct client {
  std::uint16_t port;
  std::string token;

  http_response call(http_request req, milliseconds timeout = 15s) const {
    if (!token.empty())
      req.header("Authorization", "Bearer " + token);
    return http_call(port, req, timeout);
  }
  http_response get(const std::string& target) const {
    return call(http_request{"GET", target, {}, {}});
  }
  http_response post(const std::string& body, const std::string& target = "/v1/batches") const {
    return call(http_request::post_json(target, body));
  }
  json task(std::int64_t id) const {
    auto r = get("/v1/tasks/" + std::to_string(id));
    INFO(r.body << r.error);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  void healthy() const {
    auto r = http_call(port, http_request{"GET", "/healthz", {}, {}});
    CHECK(r.status == 200);
  }
};

/// Versions of tasks first..last, for "nothing changed that should not have".
std::vector<std::int64_t> versions(const client& c, std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> out;
  for (auto id = first; id <= last; ++id)
    out.push_back(c.task(id)["version"].get<std::int64_t>());
  return out;
}

std::int64_t sql_count(const std::string& db, const std::string& query) {
  sqlite3* conn = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  INFO(query << ": " << sqlite3_errmsg(conn));
  REQUIRE(sqlite3_prepare_v2(conn, query.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  auto n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(conn);
  return n;
}

/// Runs a shell command; its exit status and what it printed (stdout and stderr).
run_result run_command(const std::string& command) {
  run_result r;
  auto* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof(buf), pipe))
    r.output.append(buf, n);
  auto raw = ::pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

json wait_until_finished(const client& c, const std::string& id, milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json j;
  do {
    auto r = c.get("/v1/batches/" + id);
    REQUIRE(r.status == 200);
    j = json::parse(r.body);
    if (j["pending"] == 0)
      return j;
    std::this_thread::sleep_for(50ms);
  } while (std::chrono::steady_clock::now() < deadline);
  FAIL("batch " << id << " did not finish: " << j.dump());
  return j;
}

/// The report agrees with what the SQLite file `db` holds, for the batch sent as `request`.
void check_truth(const std::string& db, const json& request, const json& report) {
  auto problems = check_invariant(request, report, db);
  INFO(report.dump().substr(0, 2000));
  for (const auto& p : problems)
    FAIL_CHECK(p);
  CHECK(problems.empty());
}

} // namespace

TEST_CASE("serve: --help lists every option with its default", "[http][serve]") {
  auto r = run_taskpipe({"serve", "--help"});
  CHECK(r.status == 0);
  for (auto opt : {"--listen=HOST:PORT", "(default: 127.0.0.1:8080)", "--max-batch-tasks=N",
                   "(default: 1000000)", "--max-body-bytes=N", "(default: 268435456)",
                   "--max-in-flight=N", "(default: 2000000)", "--batch-timeout=MS",
                   "(default: 60000)", "--remote=", "--api-token-file=PATH", "--latency=",
                   "(default: zero)", "--store=", "--db=PATH", "(default: taskpipe.db)",
                   "--seed-tasks=N", "--workers=K"}) {
    INFO(opt);
    CHECK(r.output.find(opt) != std::string::npos);
  }
}

TEST_CASE("serve: bad command lines exit 2 naming the option", "[http][serve]") {
  auto check = [](std::vector<std::string> args, const std::string& needle, int status = 2) {
    args.insert(args.begin(), "serve");
    auto r = run_taskpipe(args);
    INFO(r.output);
    CHECK(r.status == status);
    CHECK(r.output.find(needle) != std::string::npos);
  };
  check({"--listen=nonsense"}, "--listen");
  check({"--listen=127.0.0.1:99999"}, "--listen");
  check({"--max-body-bytes=0"}, "--max-body-bytes");
  check({"--max-batch-tasks=x"}, "--max-batch-tasks");
  check({"--batch-timeout=0"}, "--batch-timeout");
  check({"--remote=bogus@127.0.0.1:4242"}, "--remote");
  check({"--api-token-file=/nonexistent/token"}, "--api-token-file");
  check({"--bogus=1"}, "--bogus");
  check({"--store=memory", "--latency=soon"}, "--latency");
}

TEST_CASE("serve: a port in use is a clear startup error", "[http][serve]") {
  serve_process first{{"--listen=127.0.0.1:0", "--store=memory"}};
  auto r = run_taskpipe({"serve", "--store=memory", "--listen=127.0.0.1:" + std::to_string(first.port())});
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("cannot listen on 127.0.0.1:" + std::to_string(first.port()))
        != std::string::npos);
}

TEST_CASE("serve: every whole-request error row, in the contract's order", "[http][serve]") {
  temp_dir dir;
  auto token_file = dir.path() + "/token";
  std::ofstream{token_file} << "  tok-123\n";
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=50",
                      "--max-body-bytes=4000", "--max-batch-tasks=10", "--max-in-flight=8",
                      "--latency=600", "--api-token-file=" + token_file}};
  CHECK(proc.banner() == "listening on 127.0.0.1:" + std::to_string(proc.port()));
  client c{proc.port(), "tok-123"};
  client anonymous{proc.port(), ""};
  auto before = versions(c, 1, 20);

  // 401: no token, or another one; /healthz needs none; 401 before 404.
  auto r = anonymous.post(tasks_body(1, 2));
  check_error(r, 401, "unauthorized", "Authorization");
  CHECK(!r.header("www-authenticate").empty());
  check_error(client{proc.port(), "tok-124"}.get("/v1/tasks/1"), 401, "unauthorized", "token");
  check_error(anonymous.get("/nope"), 401, "unauthorized", "");
  anonymous.healthy();
  // 404 / 405, before 400.
  check_error(c.get("/v2/batches?wait=maybe"), 404, "not_found", "/v2/batches");
  check_error(c.call(http_request{"PUT", "/v1/batches?wait=maybe", "x", {}}), 405,
              "method_not_allowed", "PUT");
  // 400 bad_request, before 415.
  check_error(c.call(http_request{"POST", "/v1/batches?wait=maybe", "x", {}}), 400, "bad_request",
              "maybe");
  auto garbage = raw_exchange(proc.port(), "NOT HTTP AT ALL\r\n\r\n");
  CHECK(raw_status(garbage) == 400);
  CHECK(garbage.find("\"error\":\"bad_request\"") != std::string::npos);
  CHECK(garbage.find("malformed HTTP") != std::string::npos);
  // 415, before 413.
  check_error(c.call(http_request{"POST", "/v1/batches", std::string(5000, 'x'),
                                  {{"Content-Type", "text/json"}}}),
              415, "unsupported_media_type", "text/json");
  // 413 body, before invalid_json.
  check_error(c.post(std::string(4001, '[')), 413, "batch_too_large", "--max-body-bytes=4000");
  // 400 invalid_json with the byte offset, before invalid_batch.
  check_error(c.post(R"({"bogus":1,"tasks":[)"), 400, "invalid_json", "byte 20");
  check_error(c.post("{\"tasks\":[{\"id\":1,\"summary\":\"\xe2\x82\"}]}"), 400, "invalid_json",
              "byte 31");
  check_error(c.post(R"({"tasks":[{"id":1,"summary":"\ud800 x"}]})"), 400, "invalid_json",
              "byte ");
  check_error(c.post(""), 400, "invalid_json", "byte 0");
  // 400 invalid_batch naming the path, before 413 for too many tasks.
  check_error(c.post(R"({"tasks":[{"id":1},{"id":2},{"id":3},{"id":9223372036854775808}]})"), 400,
              "invalid_batch", "tasks[3].id: expected an integer from 1 to 9223372036854775807");
  check_error(c.post(tasks_body(1, 11, R"(,"timeout_ms":1.5)")), 400, "invalid_batch",
              "timeout_ms: expected an integer from 1 to 3600000");
  // 413: more than --max-batch-tasks, or more than --max-in-flight.
  check_error(c.post(tasks_body(1, 11)), 413, "batch_too_large", "--max-batch-tasks=10");
  check_error(c.post(tasks_body(1, 9)), 413, "batch_too_large", "--max-in-flight=8");
  // 503 overloaded: 6 tasks are in flight (2.4 s), 3 more would pass 8.
  r = c.post(tasks_body(11, 16), "/v1/batches?wait=false");
  REQUIRE(r.status == 202);
  auto running = json::parse(r.body)["batch_id"].get<std::string>();
  r = c.post(tasks_body(17, 19));
  check_error(r, 503, "overloaded", "");
  CHECK(r.header("retry-after") == "1");
  // 2 more fit.
  CHECK(c.post(tasks_body(17, 18)).status == 200);
  wait_until_finished(c, running);

  // Nothing changed but the admitted batches (11..18).
  auto after = versions(c, 1, 20);
  for (std::int64_t id = 1; id <= 20; ++id) {
    INFO("task " << id);
    auto i = static_cast<std::size_t>(id - 1);
    CHECK(after[i] == before[i] + (id >= 11 && id <= 18 ? 1 : 0));
  }
  c.healthy();
  CHECK(proc.running());
}

TEST_CASE("serve: every per-task failure code, the batch still 200", "[http][serve]") {
  temp_dir dir;
  auto db = dir.path() + "/codes.db";
  serve_process proc{{"--listen=127.0.0.1:0", "--db=" + db, "--seed-tasks=20"}};
  client c{proc.port(), ""};
  std::string long_ok;    // 255 code points of 2 bytes each
  for (int i = 0; i < 255; ++i)
    long_ok += "\xc3\xa9";
  auto body = json{{"tasks",
                    json::array({
                      {{"id", 1}, {"type", "Epic"}, {"summary", "fine"}},
                      {{"id", 999}, {"type", "Story"}},              // not_found
                      {{"id", 2}},                                    // empty_update
                      {{"id", 3}, {"type", "epic"}},                 // invalid_type
                      {{"id", 4}, {"summary", ""}},                  // invalid_summary: empty
                      {{"id", 5}, {"summary", long_ok + "x"}},       // invalid_summary: 256
                      {{"id", 6}, {"summary", "tab\there"}},         // invalid_summary: control
                      {{"id", 7}, {"summary", std::string("nul\0", 4)}},
                      {{"id", 8}, {"summary", "c1 \xc2\x85"}},       // U+0085
                      {{"id", 1}, {"summary", "again"}},             // duplicate_in_batch
                      {{"id", 9}, {"summary", long_ok}},             // 255 code points: fine
                      {{"id", 10}, {"type", "TechTask"}, {"summary", std::string(1'000'000, 'z')}},
                    })}};
  auto r = c.post(body.dump());
  INFO(r.body.substr(0, 2000));
  REQUIRE(r.status == 200);
  auto j = json::parse(r.body);
  CHECK(j["state"] == "done");
  CHECK(j["total"] == 12);
  CHECK(j["succeeded"] == 2);
  CHECK(j["failed"] == 10);
  check_truth(db, body, j);
  std::vector<std::pair<std::int64_t, std::string>> expected{
    {1, "duplicate_in_batch"}, {2, "empty_update"},    {3, "invalid_type"},
    {4, "invalid_summary"},    {5, "invalid_summary"}, {6, "invalid_summary"},
    {7, "invalid_summary"},    {8, "invalid_summary"}, {10, "invalid_summary"},
    {999, "not_found"}};
  REQUIRE(j["failures"].size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto& f = j["failures"][i];
    INFO(f.dump());
    CHECK(f["id"] == expected[i].first);
    CHECK(f["code"] == expected[i].second);
    CHECK(f["stage"] == "validate");
    CHECK(!f["reason"].get<std::string>().empty());
    CHECK(f.size() == 4);
  }
  // Read back: the two that succeeded were updated, nothing else.
  auto t1 = c.task(1);
  CHECK(t1["version"] == 2);
  CHECK(t1["type"] == "Epic");
  CHECK(t1["summary"] == "fine");
  CHECK(c.task(9)["version"] == 2);
  CHECK(c.task(9)["summary"] == long_ok);
  for (std::int64_t id : {2, 3, 4, 5, 6, 7, 8, 10}) {
    INFO(id);
    auto t = c.task(id);
    CHECK(t["version"] == 1);
    CHECK(t["summary"] == "Task " + std::to_string(id));
    CHECK(t["type"] == "Story");
  }
  check_error(c.get("/v1/tasks/999"), 404, "not_found", "999");
  CHECK(t1.size() == 5);
  CHECK(t1["updated_at"].get<std::string>().size() == 24);
}

TEST_CASE("serve: wait=false, GET and DELETE, timeout_ms", "[http][serve]") {
  temp_dir dir;
  auto db = dir.path() + "/states.db";
  serve_process proc{{"--listen=127.0.0.1:0", "--db=" + db, "--seed-tasks=100",
                      "--latency=300"}};
  client c{proc.port(), ""};
  // Runs to the end (4 x 300 ms).
  auto r = c.post(tasks_body(1, 10), "/v1/batches?wait=false");
  REQUIRE(r.status == 202);
  auto done_id = json::parse(r.body)["batch_id"].get<std::string>();
  CHECK(r.header("location") == "/v1/batches/" + done_id);
  auto status = json::parse(c.get("/v1/batches/" + done_id).body);
  CHECK(status["state"] == "running");
  CHECK(status["total"] == 10);
  CHECK(status["pending"].get<int>() > 0);
  CHECK(!status.contains("failures"));
  // Cancelled while in Validate.
  r = c.post(tasks_body(21, 30), "/v1/batches?wait=false");
  REQUIRE(r.status == 202);
  auto cancel_id = json::parse(r.body)["batch_id"].get<std::string>();
  r = c.call(http_request{"DELETE", "/v1/batches/" + cancel_id, {}, {}});
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["state"] == "cancelled");
  auto done = wait_until_finished(c, done_id);
  CHECK(done["state"] == "done");
  CHECK(done["succeeded"] == 10);
  CHECK(done["failures"].empty());
  check_truth(db, json::parse(tasks_body(1, 10)), done);
  auto cancelled = wait_until_finished(c, cancel_id);
  CHECK(cancelled["state"] == "cancelled");
  CHECK(cancelled["failed"] == 10);
  for (auto& f : cancelled["failures"])
    CHECK(f["code"] == "cancelled");
  check_truth(db, json::parse(tasks_body(21, 30)), cancelled);
  // Deleting a finished batch changes nothing and answers its status.
  r = c.call(http_request{"DELETE", "/v1/batches/" + done_id, {}, {}});
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["state"] == "done");
  CHECK(c.task(1)["version"] == 2);
  CHECK(c.task(21)["version"] == 1);
  // A deadline shorter than the pipeline: every task times out.
  r = c.post(tasks_body(41, 43, R"(,"timeout_ms":100)"));
  REQUIRE(r.status == 200);
  auto j = json::parse(r.body);
  CHECK(j["failed"] == 3);
  for (auto& f : j["failures"])
    CHECK(f["code"] == "timeout");
  check_truth(db, json::parse(tasks_body(41, 43)), j);
  check_error(c.get("/v1/batches/b-ffffffffffffffff"), 404, "not_found", "b-ffffffffffffffff");
}

TEST_CASE("serve: the SQLite store holds tasks, audit and outbox rows", "[http][serve]") {
  temp_dir dir;
  auto db = dir.path() + "/serve.db";
  std::string batch_id;
  {
    serve_process proc{{"--listen=127.0.0.1:0", "--store=sqlite", "--db=" + db, "--seed-tasks=10"}};
    client c{proc.port(), ""};
    std::string body = R"({"tasks":[{"id":1,"type":"Epic","summary":"One"},{"id":2,"summary":"Two"},)"
                       R"({"id":3,"type":"SubTask"},{"id":4},{"id":77,"type":"Epic"}]})";
    auto r = c.post(body);
    REQUIRE(r.status == 200);
    auto j = json::parse(r.body);
    batch_id = j["batch_id"].get<std::string>();
    CHECK(j["succeeded"] == 3);
    CHECK(j["failed"] == 2);
    check_truth(db, json::parse(body), j);
    auto t2 = c.task(2);
    CHECK(t2["version"] == 2);
    CHECK(t2["summary"] == "Two");
    CHECK(t2["type"] == "Story");
    proc.signal(SIGTERM);
    auto status = proc.wait_exit(15s);
    REQUIRE(status);
    CHECK(*status == 0);
  }
  auto q = [&](const std::string& sql) { return sql_count(db, sql); };
  CHECK(q("SELECT count(*) FROM tasks") == 10);
  CHECK(q("SELECT count(*) FROM tasks WHERE version = 2") == 3);
  CHECK(q("SELECT count(*) FROM tasks WHERE id = 1 AND type = 'Epic' AND summary = 'One'") == 1);
  CHECK(q("SELECT count(*) FROM audit WHERE batch_id = '" + batch_id + "'") == 3);
  CHECK(q("SELECT count(*) FROM outbox WHERE batch_id = '" + batch_id + "'") == 3);
  CHECK(q("SELECT count(*) FROM audit WHERE task_id IN (4, 77)") == 0);
  CHECK(q("SELECT count(*) FROM outbox WHERE task_id IN (4, 77)") == 0);
}

TEST_CASE("serve: /metrics after batches", "[http][serve]") {
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=10"}};
  client c{proc.port(), ""};
  REQUIRE(c.post(R"({"tasks":[{"id":1,"type":"Epic"},{"id":2},{"id":99,"type":"Epic"}]})").status
          == 200);
  auto r = c.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
  auto has = [&](const std::string& line) {
    INFO(line << "\n" << r.body);
    CHECK(r.body.find(line) != std::string::npos);
  };
  has("taskpipe_tasks_total{stage=\"validate\",outcome=\"failed\"} 2\n");
  has("taskpipe_tasks_total{stage=\"validate\",outcome=\"succeeded\"} 1\n");
  has("taskpipe_tasks_total{stage=\"notify\",outcome=\"succeeded\"} 1\n");
  has("# TYPE taskpipe_stage_latency_seconds histogram\n");
  for (auto s : {"validate", "audit", "update", "notify"})
    has(std::string{"taskpipe_stage_latency_seconds_bucket{stage=\""} + s + "\",le=\"+Inf\"}");
  has("taskpipe_tasks_in_flight 0\n");
  has("taskpipe_batches_total{state=\"done\"} 1\n");
  has("taskpipe_batches_total{state=\"cancelled\"} 0\n");
}

TEST_CASE("serve: /metrics passes promtool check metrics", "[http][serve]") {
  INFO("promtool comes with Debian's prometheus package (scripts/common.sh installs it)");
  REQUIRE(std::system("command -v promtool > /dev/null 2>&1") == 0);
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=10",
                      "--max-connections=2"}};
  client c{proc.port(), ""};
  REQUIRE(c.post(R"({"tasks":[{"id":1,"type":"Epic"},{"id":99,"type":"Epic"}]})").status == 200);
  // Every family has samples: a refused connection, a 404.
  raw_connection one{proc.port()};
  raw_connection two{proc.port()};
  std::this_thread::sleep_for(100ms);
  CHECK(raw_status(raw_exchange(proc.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 503);
  one.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(raw_status(one.read(3s, true)) == 404);
  one.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto raw = one.read(5s);
  auto body_at = raw.find("\r\n\r\n");
  REQUIRE(raw_status(raw) == 200);
  temp_dir dir;
  auto file = dir.path() + "/metrics.txt";
  std::ofstream{file, std::ios::binary} << raw.substr(body_at + 4);
  auto lint = run_command("promtool check metrics < " + file);
  INFO(lint.output << "\n" << raw.substr(body_at + 4));
  CHECK(lint.status == 0);
  CHECK(lint.output.empty());
}

TEST_CASE("serve: SIGTERM drains: waiting clients get reports, new batches 503, exit 0",
          "[http][serve]") {
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=100",
                      "--latency=500"}};
  client c{proc.port(), ""};
  http_response waited;
  std::thread waiter{[&] { waited = c.post(tasks_body(1, 20)); }};
  std::this_thread::sleep_for(400ms);
  proc.signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  auto health = c.get("/healthz");
  CHECK(health.status == 503);
  CHECK(health.body == R"({"status":"draining"})");
  auto refused = c.post(tasks_body(21, 22));
  check_error(refused, 503, "shutting_down", "draining");
  CHECK(!refused.header("retry-after").empty());
  waiter.join();
  INFO(waited.error << waited.body);
  REQUIRE(waited.status == 200);
  auto j = json::parse(waited.body);
  CHECK(j["succeeded"] == 20);
  CHECK(j["state"] == "done");
  auto status = proc.wait_exit(15s);
  REQUIRE(status);
  CHECK(*status == 0);
  CHECK(proc.stderr_text().find("draining") != std::string::npos);
}

TEST_CASE("serve: a second signal exits at once with status 1", "[http][serve]") {
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=10",
                      "--latency=3000"}};
  client c{proc.port(), ""};
  REQUIRE(c.post(tasks_body(1, 5), "/v1/batches?wait=false").status == 202);
  proc.signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  CHECK(proc.running());
  auto started = std::chrono::steady_clock::now();
  proc.signal(SIGINT);
  auto status = proc.wait_exit(5s);
  REQUIRE(status);
  CHECK(*status == 1);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("serve: clients that disconnect mid-body or mid-batch", "[http][serve]") {
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=100",
                      "--latency=200"}};
  client c{proc.port(), ""};
  auto head = [](const std::string& body) {
    return "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: "
           + std::to_string(body.size()) + "\r\n\r\n";
  };
  auto partial = tasks_body(1, 10);
  // Mid-body: the batch is never admitted, nothing changes.
  send_and_drop(proc.port(), head(partial) + partial.substr(0, partial.size() - 5));
  send_and_drop(proc.port(), head(partial) + partial.substr(0, 30), 20ms, true);
  send_and_drop(proc.port(), head(partial).substr(0, 25));
  c.healthy();
  // Mid-batch: admitted, the client goes away, the batch still finishes (nothing cancelled).
  auto whole = tasks_body(51, 55);
  send_and_drop(proc.port(), head(whole) + whole, 100ms, true);
  c.healthy();
  std::this_thread::sleep_for(1500ms);
  for (std::int64_t id = 1; id <= 10; ++id)
    CHECK(c.task(id)["version"] == 1);
  for (std::int64_t id = 51; id <= 55; ++id)
    CHECK(c.task(id)["version"] == 2);
  auto r = c.get("/metrics");
  CHECK(r.body.find("taskpipe_batches_total{state=\"done\"} 1\n") != std::string::npos);
  CHECK(r.body.find("taskpipe_batches_total{state=\"cancelled\"} 0\n") != std::string::npos);
  c.healthy();
  CHECK(proc.running());
}

TEST_CASE("serve: 1,000 concurrent clients each waiting ~2 s", "[http][serve][load]") {
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=1000",
                      "--latency=seed"}};
  // id % 5 == 0: 4 x 500 ms.
  auto req = http_request::post_json("/v1/batches",
                                     R"({"tasks":[{"id":5,"type":"Epic"},{"id":10,"summary":"s"}]})");
  auto started = std::chrono::steady_clock::now();
  auto results = http_call_many(proc.port(), req, 1000, 30s);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::size_t ok = 0;
  double worst = 0;
  std::string first_error;
  for (auto& r : results) {
    if (r.status == 200)
      ++ok;
    else if (first_error.empty())
      first_error = std::to_string(r.status) + " " + r.error + " " + r.body;
    worst = std::max(worst, r.elapsed_ms);
  }
  INFO(first_error);
  CHECK(ok == 1000);
  CHECK(worst >= 1900);
  CHECK(secs < 25);  // all waited at once (one after another would take 2,000 s)
  std::ifstream status{"/proc/" + std::to_string(proc.pid()) + "/status"};
  std::string line;
  std::string hwm;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      hwm = line;
  WARN("1000 clients x ~2 s batches: " << secs << " s wall, slowest " << worst << " ms, server "
                                       << hwm);
  CHECK(proc.running());
}
