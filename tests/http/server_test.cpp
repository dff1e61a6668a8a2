// The HTTP front in-process, against a fake coordinator and store (typed actors) through the real
// actor backend: routing, every whole-request error, auth, wait=false, drain, concurrency.
#include "main/http/actor_backend.hpp"
#include "main/http/server.hpp"
#include "support/fake_node.hpp"
#include "support/http_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <thread>

using namespace taskpipe;
using namespace taskpipe::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  register_types(cfg);
  return cfg;
}

struct front {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  coordinator_client_actor coordinator;
  task_reader_actor store;
  std::shared_ptr<pipeline_metrics> metrics = std::make_shared<pipeline_metrics>();
  std::unique_ptr<http::backend> backend;
  std::unique_ptr<http::server> server;

  explicit front(fake_config fc = {}, http::server_options so = {}) : sys(configure(cfg)) {
    coordinator = spawn_fake_coordinator(sys, fc);
    store = spawn_fake_store(sys, fc.known_tasks);
    backend = http::make_actor_backend(sys, coordinator, store, std::chrono::seconds{5});
    so.host = "127.0.0.1";
    so.port = 0;
    server = std::make_unique<http::server>(*backend, metrics, so);
    server->start();
  }

  ~front() {
    server->stop();
    caf::anon_send_exit(coordinator, caf::exit_reason::kill);
    caf::anon_send_exit(store, caf::exit_reason::kill);
  }

  std::uint16_t port() const {
    return server->port();
  }

  http_response call(const http_request& req, milliseconds timeout = 10s) const {
    return http_call(port(), req, timeout);
  }

  http_response get(const std::string& target) const {
    return call(http_request{"GET", target, {}, {}});
  }

  http_response post(const std::string& body, const std::string& target = "/v1/batches") const {
    return call(http_request::post_json(target, body));
  }
};

/// Checks an error answer: status, code, and that the detail mentions `needle`.
void check_error(const http_response& r, int status, const std::string& code,
                 const std::string& needle) {
  INFO("status " << r.status << " body " << r.body << " error " << r.error);
  REQUIRE(r.status == status);
  CHECK(r.header("content-type") == "application/json");
  auto j = json::parse(r.body);
  CHECK(j["error"] == code);
  CHECK(j["detail"].get<std::string>().find(needle) != std::string::npos);
  CHECK(j.size() == 2);
}

std::string tasks_body(std::int64_t first, std::int64_t last) {
  std::string body = R"({"tasks":[)";
  for (auto id = first; id <= last; ++id)
    body += (id > first ? "," : "") + std::string{R"({"id":)"} + std::to_string(id)
            + R"(,"type":"Epic"})";
  return body + "]}";
}

} // namespace

TEST_CASE("front: healthz, and listening on the real port", "[http][front]") {
  front f;
  CHECK(f.port() != 0);
  CHECK(f.server->address() == "127.0.0.1:" + std::to_string(f.port()));
  auto r = f.get("/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"ok"})");
  CHECK(r.header("content-type") == "application/json");
}

TEST_CASE("front: a batch with wait=true answers the report", "[http][front]") {
  front f{fake_config{50ms}};
  auto r = f.post(R"({"tasks":[{"id":7,"type":"Story"},{"id":500,"summary":"x"},{"id":3}]})");
  REQUIRE(r.status == 200);
  auto j = json::parse(r.body);
  CHECK(j["state"] == "done");
  CHECK(j["total"] == 3);
  CHECK(j["succeeded"] == 2);
  CHECK(j["failed"] == 1);
  CHECK(j["elapsed_ms"].is_number());
  CHECK(j["elapsed_ms"].get<double>() >= 40);
  CHECK(j["batch_id"].get<std::string>().rfind("b-", 0) == 0);
  REQUIRE(j["failures"].size() == 1);
  CHECK(j["failures"][0] == json::parse(R"({"id":500,"stage":"validate","code":"not_found",)"
                                        R"("reason":"task 500 does not exist"})"));
  // ?wait=true said explicitly, and an empty batch.
  r = f.post(R"({"tasks":[]})", "/v1/batches?wait=true");
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["total"] == 0);
}

TEST_CASE("front: wait=false, status, cancel", "[http][front]") {
  front f{fake_config{400ms}};
  auto r = f.post(tasks_body(1, 5), "/v1/batches?wait=false");
  REQUIRE(r.status == 202);
  auto j = json::parse(r.body);
  auto id = j["batch_id"].get<std::string>();
  CHECK(j["status_url"] == "/v1/batches/" + id);
  CHECK(r.header("location") == "/v1/batches/" + id);
  r = f.get("/v1/batches/" + id);
  REQUIRE(r.status == 200);
  j = json::parse(r.body);
  CHECK(j["state"] == "running");
  CHECK(j["pending"] == 5);
  CHECK(!j.contains("failures"));
  r = f.call(http_request{"DELETE", "/v1/batches/" + id, {}, {}});
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["state"] == "cancelled");
  std::this_thread::sleep_for(600ms);
  r = f.get("/v1/batches/" + id);
  REQUIRE(r.status == 200);
  j = json::parse(r.body);
  CHECK(j["state"] == "cancelled");
  CHECK(j["pending"] == 0);
  CHECK(j["failures"].is_array());
  check_error(f.get("/v1/batches/b-00000000000000ff"), 404, "not_found", "b-00000000000000ff");
  check_error(f.get("/v1/batches/nope"), 404, "not_found", "nope");
  check_error(f.call(http_request{"DELETE", "/v1/batches/B-0000000000000001", {}, {}}), 404,
              "not_found", "B-0000000000000001");
}

TEST_CASE("front: a batch's failures in pages", "[http][front]") {
  front f{fake_config{10ms}};
  // Ids 101..130 fail not_found (the fake knows 1..100), 120 twice more (duplicates).
  std::string body = tasks_body(95, 130);
  body.insert(body.size() - 2, R"(,{"id":120,"type":"Epic"},{"id":120,"type":"Epic"})");
  auto r = f.post(body);
  REQUIRE(r.status == 200);
  auto report = json::parse(r.body);
  auto id = report["batch_id"].get<std::string>();
  json all = json::array();
  std::int64_t after = 0;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = f.get("/v1/batches/" + id + "/failures?after=" + std::to_string(after)
                      + "&limit=7");
    REQUIRE(page.status == 200);
    auto j = json::parse(page.body);
    CHECK(j.size() == 3);
    CHECK(j["batch_id"] == id);
    for (auto& x : j["failures"])
      all.push_back(x);
    if (j["next"].is_null())
      break;
    after = j["next"].get<std::int64_t>();
  }
  CHECK(all == report["failures"]);  // every failure once, in the report's order
  auto one = json::parse(f.get("/v1/batches/" + id + "/failures?after=118&limit=2").body);
  CHECK(one["failures"].size() == 4);  // 119, and 120's three: one id is never split
  CHECK(one["next"] == 120);
  auto rest = json::parse(f.get("/v1/batches/" + id + "/failures?after=130").body);
  CHECK(rest["failures"].empty());
  CHECK(rest["next"].is_null());
  check_error(f.get("/v1/batches/" + id + "/failures?limit=0"), 400, "bad_request", "limit");
  check_error(f.get("/v1/batches/" + id + "/failures?after=x"), 400, "bad_request", "after");
  check_error(f.get("/v1/batches/b-00000000000000ff/failures"), 404, "not_found",
              "b-00000000000000ff");
  auto head = f.call(http_request{"HEAD", "/v1/batches/" + id + "/failures", {}, {}});
  CHECK(head.status == 200);
  CHECK(head.body.empty());
}

TEST_CASE("front: tasks from the store", "[http][front]") {
  front f;
  auto r = f.get("/v1/tasks/17");
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body) == json::parse(R"({"id":17,"type":"Story","summary":"Task 17",)"
                                           R"("version":1,"updated_at":"2026-01-01T00:00:00.000Z"})"));
  check_error(f.get("/v1/tasks/101"), 404, "not_found", "task 101 does not exist");
  for (auto bad : {"0", "-1", "abc", "1.5", "9223372036854775808", "01", "1x"})
    check_error(f.get(std::string{"/v1/tasks/"} + bad), 404, "not_found", bad);
}

TEST_CASE("front: 404 and 405", "[http][front]") {
  front f;
  check_error(f.get("/index.html"), 404, "not_found", "\"/index.html\"");
  check_error(f.get("/v1/batchesx"), 404, "not_found", "/v1/batchesx");
  check_error(f.get("/v1/batches/"), 404, "not_found", "/v1/batches/");
  check_error(f.get("/v1/batches/b-0000000000000001/x"), 404, "not_found", "/x");
  check_error(f.get("/v1/tasks/"), 404, "not_found", "/v1/tasks/");
  check_error(f.get("/healthz/"), 404, "not_found", "/healthz/");
  auto r = f.get("/v1/batches");
  check_error(r, 405, "method_not_allowed", "GET");
  CHECK(r.header("allow") == "POST");
  r = f.call(http_request{"PUT", "/v1/batches/b-0000000000000001", "{}", {}});
  check_error(r, 405, "method_not_allowed", "PUT");
  CHECK(r.header("allow") == "GET, DELETE");
  r = f.call(http_request{"POST", "/v1/tasks/1", "{}", {{"Content-Type", "application/json"}}});
  check_error(r, 405, "method_not_allowed", "POST");
  r = f.call(http_request{"DELETE", "/healthz", {}, {}});
  check_error(r, 405, "method_not_allowed", "DELETE");
  r = f.call(http_request{"POST", "/metrics", {}, {}});
  check_error(r, 405, "method_not_allowed", "POST");
  // 404/405 come before 400 and 415.
  check_error(f.call(http_request{"POST", "/nope?wait=maybe", "x", {{"Content-Type", "text/plain"}}}),
              404, "not_found", "/nope");
  check_error(f.call(http_request{"PATCH", "/v1/batches?wait=maybe", "x", {}}), 405,
              "method_not_allowed", "PATCH");
}

TEST_CASE("front: 400 bad_request for query parameters", "[http][front]") {
  front f;
  check_error(f.post("{}", "/v1/batches?wait=maybe"), 400, "bad_request", "maybe");
  check_error(f.post("{}", "/v1/batches?wait="), 400, "bad_request", "wait");
  check_error(f.post("{}", "/v1/batches?wait"), 400, "bad_request", "wait");
  check_error(f.post("{}", "/v1/batches?wait=TRUE"), 400, "bad_request", "TRUE");
  check_error(f.post("{}", "/v1/batches?wait=true&wait=false"), 400, "bad_request", "twice");
  check_error(f.post("{}", "/v1/batches?wiat=false"), 400, "bad_request", "wiat");
  check_error(f.post("{}", "/v1/batches?wait=%zz"), 400, "bad_request", "percent");
  check_error(f.get("/healthz?verbose=1"), 400, "bad_request", "verbose");
  // Percent-encoding is decoded; 400 comes before 415.
  CHECK(f.post(R"({"tasks":[]})", "/v1/batches?wait=%74rue").status == 200);
  check_error(f.call(http_request{"POST", "/v1/batches?wait=no", "{}", {}}), 400, "bad_request",
              "no");
}

TEST_CASE("front: 415 unless the body is application/json", "[http][front]") {
  front f;
  auto with_type = [&](const std::string& type) {
    http_request r{"POST", "/v1/batches", R"({"tasks":[]})", {}};
    if (!type.empty())
      r.header("Content-Type", type);
    return f.call(r);
  };
  check_error(with_type(""), 415, "unsupported_media_type", "has none");
  check_error(with_type("text/plain"), 415, "unsupported_media_type", "text/plain");
  check_error(with_type("application/jsonx"), 415, "unsupported_media_type", "jsonx");
  check_error(with_type("application/x-www-form-urlencoded"), 415, "unsupported_media_type",
              "form");
  CHECK(with_type("application/json").status == 200);
  CHECK(with_type("application/json; charset=utf-8").status == 200);
  CHECK(with_type("Application/JSON;charset=UTF-8").status == 200);
  CHECK(with_type(" application/json ").status == 200);
}

TEST_CASE("front: 413 for a body over --max-body-bytes, before it is read", "[http][front]") {
  http::server_options so;
  so.max_body_bytes = 1000;
  front f{{}, so};
  // The limit itself is fine.
  std::string body = R"({"tasks":[],"timeout_ms":5)" + std::string(1000 - 27, ' ') + "}";
  REQUIRE(body.size() == 1000);
  CHECK(f.post(body).status == 200);
  check_error(f.post(body + " "), 413, "batch_too_large", "--max-body-bytes=1000");
  // Only the header is sent: the answer comes without the body.
  auto raw = raw_until_response(f.port(),
                                "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                "application/json\r\nContent-Length: 1000000000\r\n\r\n",
                                3s);
  CHECK(raw_status(raw) == 413);
  CHECK(raw.find("batch_too_large") != std::string::npos);
  CHECK(raw.find("Connection: close") != std::string::npos);
  // Chunked bodies are cut at the limit too.
  std::string chunk(600, 'x');
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", chunk.size());
  std::string chunked = "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
  chunked += std::string{size} + "\r\n" + chunk + "\r\n" + size + "\r\n" + chunk + "\r\n0\r\n\r\n";
  raw = raw_until_response(f.port(), chunked, 3s);
  CHECK(raw_status(raw) == 413);
  // Expect: 100-continue gets the 413 instead of 100 Continue.
  raw = raw_until_response(f.port(),
                           "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           "application/json\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
                           3s);
  CHECK(raw_status(raw) == 413);
  // The node is still fine.
  CHECK(f.get("/healthz").status == 200);
}

TEST_CASE("front: Expect: 100-continue", "[http][front]") {
  front f;
  std::string body = R"({"tasks":[{"id":1,"type":"Epic"}]})";
  auto raw = raw_exchange(f.port(),
                          "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Connection: close\r\nExpect: 100-continue\r\nContent-Length: "
                            + std::to_string(body.size()) + "\r\n\r\n" + body,
                          3s);
  CHECK(raw.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("front: invalid_json and invalid_batch", "[http][front]") {
  front f;
  check_error(f.post(""), 400, "invalid_json", "byte 0");
  check_error(f.post(R"({"tasks":[{"id":1})"), 400, "invalid_json", "byte 18");
  check_error(f.post("{\"tasks\":[{\"id\":1,\"summary\":\"\xff\"}]}"), 400, "invalid_json",
              "byte 29");
  check_error(f.post(R"({"tasks":[{"id":1,"summary":"\udc00"}]})"), 400, "invalid_json", "byte ");
  check_error(f.post(std::string(5000, '[')), 400, "invalid_json", "nesting");
  check_error(f.post(R"({"tasks":[{"id":1},{"id":2},{"id":3},{"id":0}]})"), 400, "invalid_batch",
              "tasks[3].id: expected an integer from 1 to 9223372036854775807");
  check_error(f.post(R"({"tasks":[{"id":1.0}]})"), 400, "invalid_batch", "tasks[0].id");
  check_error(f.post(R"({"tasks":[{"id":1,"type":null}]})"), 400, "invalid_batch",
              "tasks[0].type: expected a string");
  check_error(f.post(R"({"tasks":[],"timeout_ms":0})"), 400, "invalid_batch", "timeout_ms");
  check_error(f.post(R"({"tasks":[{"id":1,"id":1}]})"), 400, "invalid_batch", "duplicate key");
  check_error(f.post(R"({"tasks":[{"id":1,"owner":"me"}]})"), 400, "invalid_batch",
              "tasks[0].owner: unknown field");
}

TEST_CASE("front: 413 for too many tasks", "[http][front]") {
  http::server_options so;
  so.max_batch_tasks = 3;
  so.max_in_flight = 1000;
  front f{{}, so};
  CHECK(f.post(tasks_body(1, 3)).status == 200);
  check_error(f.post(tasks_body(1, 4)), 413, "batch_too_large", "--max-batch-tasks=3");
  // An invalid batch is 400 even when it is also too large.
  check_error(f.post(R"({"tasks":[{"id":1},{"id":2},{"id":3},{"id":4},{"id":0}]})"), 400,
              "invalid_batch", "tasks[4].id");
  http::server_options small;
  small.max_in_flight = 2;
  front g{{}, small};
  check_error(g.post(tasks_body(1, 3)), 413, "batch_too_large", "--max-in-flight=2");
}

TEST_CASE("front: 503 overloaded with Retry-After", "[http][front]") {
  fake_config fc;
  fc.delay = 1500ms;
  fc.max_in_flight = 10;
  front f{fc};
  REQUIRE(f.post(tasks_body(1, 8), "/v1/batches?wait=false").status == 202);
  auto r = f.post(tasks_body(1, 5));
  check_error(r, 503, "overloaded", "--max-in-flight");
  CHECK(r.header("retry-after") == "1");
  CHECK(f.post(tasks_body(1, 2)).status == 200);
}

TEST_CASE("front: draining", "[http][front]") {
  front f{fake_config{300ms}};
  // A batch admitted before the drain gets its report.
  std::thread waiting_client;
  http_response waited;
  waiting_client = std::thread{[&] { waited = f.post(tasks_body(1, 3)); }};
  std::this_thread::sleep_for(100ms);
  f.server->begin_drain();
  auto r = f.get("/healthz");
  CHECK(r.status == 503);
  CHECK(r.body == R"({"status":"draining"})");
  r = f.post(tasks_body(1, 2));
  check_error(r, 503, "shutting_down", "draining");
  CHECK(r.header("retry-after") == "5");
  // Order: 415 and 400 still come first.
  check_error(f.call(http_request{"POST", "/v1/batches", "{}", {}}), 415,
              "unsupported_media_type", "none");
  check_error(f.post("{"), 400, "invalid_json", "byte");
  waiting_client.join();
  CHECK(waited.status == 200);
  CHECK(waited.header("connection") == "close");
}

TEST_CASE("front: API token", "[http][front]") {
  http::server_options so;
  so.api_token = "s3cret-T0ken";
  front f{{}, so};
  auto with_auth = [&](const std::string& target, const std::string& value) {
    http_request r{"GET", target, {}, {}};
    if (!value.empty())
      r.header("Authorization", value);
    return f.call(r);
  };
  auto r = with_auth("/v1/tasks/1", "");
  check_error(r, 401, "unauthorized", "missing");
  CHECK(r.header("www-authenticate").rfind("Bearer", 0) == 0);
  check_error(with_auth("/v1/tasks/1", "Bearer wrong"), 401, "unauthorized", "does not hold");
  check_error(with_auth("/v1/tasks/1", "Bearer s3cret-T0ke"), 401, "unauthorized", "");
  check_error(with_auth("/v1/tasks/1", "Bearer s3cret-T0ken2"), 401, "unauthorized", "");
  check_error(with_auth("/v1/tasks/1", "Basic s3cret-T0ken"), 401, "unauthorized", "");
  check_error(with_auth("/v1/tasks/1", "s3cret-T0ken"), 401, "unauthorized", "");
  check_error(with_auth("/v1/tasks/1", "Bearer"), 401, "unauthorized", "");
  CHECK(with_auth("/v1/tasks/1", "Bearer s3cret-T0ken").status == 200);
  CHECK(with_auth("/v1/tasks/1", "bearer   s3cret-T0ken").status == 200);
  CHECK(with_auth("/metrics", "Bearer s3cret-T0ken").status == 200);
  check_error(with_auth("/metrics", ""), 401, "unauthorized", "");
  // /healthz needs none; 401 comes before 404.
  CHECK(with_auth("/healthz", "").status == 200);
  check_error(with_auth("/nope", ""), 401, "unauthorized", "");
  CHECK(with_auth("/nope", "Bearer s3cret-T0ken").status == 404);
  auto post = http_request::post_json("/v1/batches?wait=maybe", "{");
  check_error(f.call(post), 401, "unauthorized", "");
}

TEST_CASE("front: keep-alive serves several requests on one connection", "[http][front]") {
  front f;
  std::vector<http_request> reqs{
    http_request{"GET", "/healthz", {}, {}},
    http_request::post_json("/v1/batches", R"({"tasks":[{"id":1,"type":"Epic"}]})"),
    http_request::post_json("/v1/batches", "{bad"),
    http_request{"GET", "/nope", {}, {}},
    http_request{"GET", "/v1/tasks/2", "ignored body", {}},
    http_request{"GET", "/metrics", {}, {}},
  };
  auto results = http_call_sequence(f.port(), reqs);
  REQUIRE(results.size() == reqs.size());
  CHECK(results[0].status == 200);
  CHECK(results[1].status == 200);
  CHECK(results[2].status == 400);
  CHECK(results[3].status == 404);
  CHECK(results[4].status == 200);
  CHECK(results[5].status == 200);
  CHECK(results[5].header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
}

TEST_CASE("front: malformed HTTP is 400 bad_request", "[http][front]") {
  front f;
  auto raw = raw_exchange(f.port(), "GARBAGE\r\n\r\n", 3s);
  CHECK(raw_status(raw) == 400);
  CHECK(raw.find("bad_request") != std::string::npos);
  raw = raw_exchange(f.port(), "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 3s);
  CHECK(raw_status(raw) == 400);
  raw = raw_exchange(f.port(), "GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n",
                     3s);
  CHECK(raw_status(raw) == 400);
  CHECK(raw.find("over 16384 bytes") != std::string::npos);
  raw = raw_exchange(f.port(),
                     "POST /v1/batches HTTP/1.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: abc\r\n\r\n",
                     3s);
  CHECK(raw_status(raw) == 400);
  raw = raw_exchange(f.port(),
                     "POST /v1/batches HTTP/1.1\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
                     3s);
  CHECK(raw_status(raw) == 400);
  CHECK(f.get("/healthz").status == 200);
}

TEST_CASE("front: clients that disconnect mid-body or mid-batch", "[http][front]") {
  front f{fake_config{300ms}};
  std::string body = tasks_body(1, 50);
  std::string head = "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: "
                     + std::to_string(body.size()) + "\r\n\r\n";
  // Mid-header, mid-body (FIN and RST), and mid-batch.
  send_and_drop(f.port(), head.substr(0, 20));
  send_and_drop(f.port(), head + body.substr(0, body.size() / 2));
  send_and_drop(f.port(), head + body.substr(0, body.size() / 2), 20ms, true);
  send_and_drop(f.port(), head + body, 50ms);
  send_and_drop(f.port(), head + body, 50ms, true);
  CHECK(f.get("/healthz").status == 200);
  // The two batches sent whole were admitted and finish although nobody waits.
  std::this_thread::sleep_for(600ms);
  caf::scoped_actor self{f.sys};
  std::uint64_t done = 0;
  self->request(f.coordinator, 5s, stats_atom_v)
    .receive([&](std::uint64_t, std::uint64_t d, std::uint64_t) { done = d; },
             [](caf::error&) {});
  CHECK(done == 2);
  CHECK(f.server->counters().requests_in_progress.load() == 0);
  CHECK(f.get("/healthz").status == 200);
}

TEST_CASE("front: 1,000 concurrent connections each waiting 2 s, one Asio thread",
          "[http][front][load]") {
  fake_config fc;
  fc.delay = 2000ms;
  http::server_options so;
  so.threads = 1;
  front f{fc, so};
  auto started = std::chrono::steady_clock::now();
  auto req = http_request::post_json("/v1/batches", tasks_body(1, 10));
  auto results = http_call_many(f.port(), req, 1000, 20s);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::size_t ok = 0;
  double worst = 0;
  for (auto& r : results) {
    if (r.status == 200)
      ++ok;
    else
      INFO(r.error);
    worst = std::max(worst, r.elapsed_ms);
  }
  CHECK(ok == 1000);
  CHECK(worst >= 1900);
  CHECK(secs < 15);  // all waited at once (one after another would take 2,000 s)
  WARN("1000 x 2 s batches on one Asio thread: " << secs << " s, slowest " << worst << " ms");
}

TEST_CASE("front: /metrics", "[http][front]") {
  front f;
  f.metrics->count(stage::update, true, 7);
  f.metrics->tasks_in_flight = 3;
  f.metrics->batches_done = 2;
  auto r = f.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.body.find("taskpipe_tasks_total{stage=\"update\",outcome=\"succeeded\"} 7\n")
        != std::string::npos);
  CHECK(r.body.find("taskpipe_tasks_in_flight 3\n") != std::string::npos);
  CHECK(r.body.find("taskpipe_batches_total{state=\"done\"} 2\n") != std::string::npos);
  CHECK(r.body.find("taskpipe_stage_latency_seconds_bucket{stage=\"notify\",le=\"+Inf\"} 0\n")
        != std::string::npos);
  CHECK(r.body.find("taskpipe_http_connections_open 1\n") != std::string::npos);
}

TEST_CASE("front: a coordinator that is gone answers 500, or 503 while draining",
          "[http][front]") {
  front f;
  caf::anon_send_exit(f.coordinator, caf::exit_reason::kill);
  std::this_thread::sleep_for(100ms);
  check_error(f.post(tasks_body(1, 1)), 500, "internal", "no longer running");
  f.server->begin_drain();
  check_error(f.post(tasks_body(1, 1)), 503, "shutting_down", "");
  check_error(f.get("/v1/batches/b-0000000000000001"), 503, "shutting_down", "");
}
