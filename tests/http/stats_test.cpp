// The dashboard's data against a real `taskpipe serve`: GET /v1/stats (the snapshot's schema and
// values: counters rise after a batch, a failing batch shows its code; a stage host's rows, live,
// frozen and killed), GET /v1/events (SSE framing, one snapshot a second, ended by a drain), and
// both behind --api-token-file.
#include "support/http_client.hpp"
#include "support/serve_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

using namespace taskpipe::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json stats(std::uint16_t port, const std::string& token = "") {
  http_request req{"GET", "/v1/stats", {}, {}};
  if (!token.empty())
    req.header("Authorization", "Bearer " + token);
  auto r = http_call(port, req);
  INFO(r.status << " " << r.body << r.error);
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "application/json");
  return json::parse(r.body);
}

/// Polls /v1/stats until `ok` holds (a snapshot is built once a second); returns the last one.
json stats_until(std::uint16_t port, const std::function<bool(const json&)>& ok,
                 milliseconds timeout = 8s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json s = stats(port);
  while (!ok(s) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    s = stats(port);
  }
  return s;
}

std::string tasks_body(std::int64_t first, std::int64_t last) {
  std::string body = R"({"tasks":[)";
  for (auto id = first; id <= last; ++id)
    body += (id > first ? "," : "") + std::string{R"({"id":)"} + std::to_string(id)
            + R"(,"type":"Story"})";
  return body + "]}";
}

const json& stage_of(const json& s, const std::string& name) {
  for (const auto& st : s["stages"])
    if (st["name"] == name)
      return st;
  FAIL("no stage " << name);
  throw std::logic_error{"unreachable"};
}

serve_process start_node(std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=5000",
                                "--workers=2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return serve_process{args};
}

} // namespace

TEST_CASE("GET /v1/stats: the snapshot's schema", "[http][serve][dashboard]") {
  auto node = start_node();
  auto s = stats(node.port());
  REQUIRE(s["seq"].is_number_unsigned());
  CHECK(s["node"]["name"].get<std::string>().find(std::to_string(node.port())) != std::string::npos);
  CHECK(s["node"]["version"].is_string());
  CHECK(s["node"]["uptime_s"].is_number());
  CHECK(s["node"]["draining"] == false);
  CHECK(s["store"]["kind"] == "memory");
  CHECK(s["hosts"].is_array());
  REQUIRE(s["stages"].size() == 4);
  std::vector<std::string> names;
  for (const auto& st : s["stages"]) {
    names.push_back(st["name"]);
    CHECK(st["where"] == "local");
    CHECK(st["workers"] == 2);
    CHECK(st["worker_list"].size() == 2);
    for (auto key : {"held", "waiting", "queued_chunks", "done", "failed"})
      CHECK(st[key].is_number_unsigned());
    for (auto key : {"done_per_s", "failed_per_s", "busy"})
      CHECK(st[key].is_number());
    CHECK((st["p50_ms"].is_null() || st["p50_ms"].is_number()));
  }
  CHECK(names == std::vector<std::string>{"validate", "audit", "update", "notify"});
  for (auto key : {"accepted_per_s", "done_per_s", "failed_per_s"})
    CHECK(s["rates"][key].is_number());
  CHECK(s["history"].is_array());
  CHECK(s["totals"]["accepted"] == 0);
  CHECK(s["batches"].empty());
  CHECK(s["failures"]["by_code"].size() == 10);  // every code of the contract, counted or 0
  CHECK(s["failures"]["by_code"]["not_found"] == 0);
  CHECK(s["failures"]["last"].empty());
  // The store answers its probe within a second or two of the start.
  s = stats_until(node.port(), [](const json& x) { return x["store"]["health"] == "ok"; });
  CHECK(s["store"]["health"] == "ok");
  // One snapshot a second.
  auto later = stats_until(node.port(), [&](const json& x) { return x["seq"] > s["seq"]; }, 3s);
  CHECK(later["seq"] > s["seq"]);
}

TEST_CASE("GET /v1/stats: counters rise after a batch", "[http][serve][dashboard]") {
  auto node = start_node();
  auto before = stats(node.port());
  auto r = http_call(node.port(), http_request::post_json("/v1/batches", tasks_body(1, 3000)));
  REQUIRE(r.status == 200);
  auto id = json::parse(r.body)["batch_id"].get<std::string>();
  auto s = stats_until(node.port(), [](const json& x) {
    return x["totals"]["succeeded"] == 3000 && stage_of(x, "notify")["done"] == 3000;
  });
  CHECK(s["totals"]["accepted"] == 3000);
  CHECK(s["totals"]["succeeded"] == 3000);
  CHECK(s["totals"]["in_flight"] == 0);
  CHECK(s["totals"]["batches_done"] == 1);
  for (auto name : {"validate", "audit", "update", "notify"}) {
    const auto& st = stage_of(s, name);
    INFO(name);
    CHECK(st["done"] == 3000);
    CHECK(st["failed"] == 0);
    CHECK(st["held"] == 0);
    CHECK(st["p50_ms"].is_number());
    CHECK(st["p99_ms"].get<double>() >= st["p50_ms"].get<double>());
    std::uint64_t by_workers = 0;
    for (const auto& w : st["worker_list"])
      by_workers += w["done"].get<std::uint64_t>();
    CHECK(by_workers == 3000);
  }
  REQUIRE(!s["batches"].empty());
  const auto& b = s["batches"][0];
  CHECK(b["batch_id"] == id);
  CHECK(b["status_url"] == "/v1/batches/" + id);
  CHECK(b["state"] == "done");
  CHECK(b["total"] == 3000);
  CHECK(b["succeeded"] == 3000);
  CHECK(b["pending"] == 0);
  // The rate of the second that saw the batch, in the chart's history.
  s = stats_until(node.port(), [](const json& x) {
    for (const auto& p : x["history"])
      if (p["done_per_s"].get<double>() > 0)
        return true;
    return false;
  });
  double peak = 0;
  for (const auto& p : s["history"])
    peak = std::max(peak, p["done_per_s"].get<double>());
  CHECK(peak > 0);
}

TEST_CASE("GET /v1/stats: a failing batch shows its code", "[http][serve][dashboard]") {
  auto node = start_node();
  auto r = http_call(node.port(),
                     http_request::post_json(
                       "/v1/batches",
                       R"({"tasks":[{"id":999999,"type":"Epic"},{"id":7,"type":"epic"},{"id":8,"type":"Epic"}]})"));
  REQUIRE(r.status == 200);
  auto id = json::parse(r.body)["batch_id"].get<std::string>();
  auto s = stats_until(node.port(), [](const json& x) { return x["failures"]["last"].size() == 2; });
  CHECK(s["failures"]["by_code"]["not_found"] == 1);
  CHECK(s["failures"]["by_code"]["invalid_type"] == 1);
  CHECK(s["totals"]["failed"] == 2);
  CHECK(s["totals"]["succeeded"] == 1);
  CHECK(stage_of(s, "validate")["failed"] == 2);
  REQUIRE(s["failures"]["last"].size() == 2);
  std::set<std::string> codes;
  for (const auto& f : s["failures"]["last"]) {
    CHECK(f["batch_id"] == id);
    CHECK(f["stage"] == "validate");
    codes.insert(f["code"]);
  }
  CHECK(codes == std::set<std::string>{"invalid_type", "not_found"});
  REQUIRE(!s["batches"].empty());
  CHECK(s["batches"][0]["batch_id"] == id);
  CHECK(s["batches"][0]["failed"] == 2);
  CHECK(s["failures"]["window_s"].get<double>() <= 300.0);
}

TEST_CASE("GET /v1/events: server-sent events, one snapshot a second, ended by a drain",
          "[http][serve][dashboard]") {
  auto node = start_node();
  raw_connection c{node.port()};
  REQUIRE(c.connected());
  REQUIRE(c.send("GET /v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
  auto text = c.read(2500ms);
  INFO(text);
  CHECK(raw_status(text) == 200);
  CHECK(text.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(text.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(text.find("retry: 2000\n") != std::string::npos);
  // At least two events, each with its id, event name and one line of JSON data.
  std::set<std::string> ids;
  std::size_t events = 0;
  for (auto at = text.find("id: "); at != std::string::npos; at = text.find("id: ", at + 1)) {
    auto line_end = text.find('\n', at);
    ids.insert(text.substr(at + 4, line_end - at - 4));
    REQUIRE(text.compare(line_end + 1, 20, "event: stats\ndata: {") == 0);
    auto data = text.substr(line_end + 20, text.find('\n', line_end + 20) - line_end - 20);
    auto j = json::parse(data);
    CHECK(j["stages"].size() == 4);
    ++events;
  }
  CHECK(events >= 2);
  CHECK(ids.size() == events);
  // HEAD: the stream's header alone.
  auto head = http_call(node.port(), http_request{"HEAD", "/v1/events", {}, {}});
  CHECK(head.status == 200);
  CHECK(head.header("content-type") == "text/event-stream; charset=utf-8");
  CHECK(head.body.empty());
  // SIGTERM: the stream ends at once (the drain does not wait for it) and the node exits 0.
  node.signal(SIGTERM);
  auto status = node.wait_exit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  auto rest = c.read(2s);
  CHECK(rest.find("0\r\n\r\n") != std::string::npos);  // the last chunk
}

TEST_CASE("the dashboard behind --api-token-file", "[http][serve][dashboard]") {
  temp_dir dir;
  auto token_file = dir.path() + "/token";
  std::ofstream{token_file} << "dash-token\n";
  auto node = start_node({"--api-token-file=" + token_file});
  auto r = http_call(node.port(), http_request{"GET", "/v1/stats", {}, {}});
  CHECK(r.status == 401);
  r = http_call(node.port(), http_request{"GET", "/v1/events", {}, {}});
  CHECK(r.status == 401);
  r = http_call(node.port(), http_request{"GET", "/", {}, {}});
  CHECK(r.status == 401);
  CHECK(r.header("content-type") == "text/html; charset=utf-8");
  CHECK(r.header("content-security-policy").find("default-src 'none'") == 0);
  CHECK(r.body.find("id=\"login\"") != std::string::npos);
  r = http_call(node.port(), http_request{"GET", "/", {}, {}}.header("Authorization", "Bearer dash-token"));
  CHECK(r.status == 200);
  CHECK(stats(node.port(), "dash-token")["stages"].size() == 4);
  CHECK(http_call(node.port(), http_request{"GET", "/healthz", {}, {}}).status == 200);
}

namespace {

const json& node_row(const json& stage) {
  REQUIRE(stage["nodes"].size() == 1);
  return stage["nodes"][0];
}

/// /v1/stats, which must answer within a second whatever the stage hosts do.
json stats_quickly(std::uint16_t port) {
  auto start = std::chrono::steady_clock::now();
  auto s = stats(port);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  return s;
}

json stats_quickly_until(std::uint16_t port, const std::function<bool(const json&)>& ok,
                         milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json s = stats_quickly(port);
  while (!ok(s) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    s = stats_quickly(port);
  }
  return s;
}

} // namespace

TEST_CASE("GET /v1/stats: a stage host's rows, frozen, then killed", "[http][serve][dashboard]") {
  // A long connection timeout on both sides: a frozen host stays connected (and unanswering) for
  // the test's while, instead of being declared lost after 2 s.
  serve_process host{"node", {"--stages=update,notify", "--listen=127.0.0.1:0", "--store=memory",
                              "--seed-tasks=5000", "--workers=2", "--log-level=warn",
                              "--middleman.connection-timeout=15s"}};
  auto peer = "127.0.0.1:" + std::to_string(host.port());
  auto node = start_node({"--remote=update@" + peer, "--remote=notify@" + peer,
                          "--middleman.connection-timeout=15s"});
  auto live = [](const json& x) {
    return node_row(stage_of(x, "update"))["state"] == "live"
           && node_row(stage_of(x, "notify"))["state"] == "live";
  };
  auto s = stats_until(node.port(), live);
  for (auto name : {"update", "notify"}) {
    const auto& st = stage_of(s, name);
    INFO(name << ": " << st.dump());
    CHECK(st["where"] == "remote");
    CHECK(st["hosts"] == json::array({peer}));
    const auto& n = node_row(st);
    CHECK(n["peer"] == peer);
    CHECK(n["state"] == "live");
    CHECK(n["age_s"].is_number());
    CHECK(n["detail"] == "");
    CHECK(n["workers"] == 2);
    CHECK(n["worker_list"].size() == 2);
    CHECK(n["done"] == 0);
    CHECK(st["workers"] == 2);  // the live nodes added up
  }
  CHECK(stage_of(s, "validate")["nodes"].empty());
  REQUIRE(s["hosts"].size() == 1);
  CHECK(s["hosts"][0]["peer"] == peer);
  CHECK(s["hosts"][0]["state"] == "connected");
  CHECK(s["hosts"][0]["stages"] == json::array({"update", "notify"}));

  // A batch: the host's counters rise, in its rows and in the stages' sums.
  auto r = http_call(node.port(), http_request::post_json("/v1/batches", tasks_body(1, 3000)));
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["succeeded"] == 3000);
  s = stats_until(node.port(), [](const json& x) {
    return node_row(stage_of(x, "update"))["done"] == 3000
           && node_row(stage_of(x, "notify"))["done"] == 3000;
  });
  CHECK(stage_of(s, "validate")["done"] == 3000);  // local
  for (auto name : {"update", "notify"}) {
    const auto& st = stage_of(s, name);
    INFO(name << ": " << st.dump());
    const auto& n = node_row(st);
    CHECK(n["done"] == 3000);
    CHECK(n["held"] == 0);
    CHECK(n["p50_ms"].is_number());
    CHECK(n["p99_ms"].get<double>() >= n["p50_ms"].get<double>());
    std::uint64_t by_workers = 0;
    for (const auto& w : n["worker_list"])
      by_workers += w["done"].get<std::uint64_t>();
    CHECK(by_workers == 3000);
    CHECK(st["done"] == 3000);
    CHECK(st["p50_ms"].is_number());
  }

  // Frozen: the snapshots go on once a second; the rows go stale, keep their last totals and say
  // how old they are.
  host.signal(SIGSTOP);
  auto frozen_at = stats_quickly(node.port())["seq"].get<std::uint64_t>();
  s = stats_quickly_until(node.port(), [](const json& x) {
    return node_row(stage_of(x, "update"))["state"] == "stale"
           && node_row(stage_of(x, "update"))["age_s"].get<double>() >= 2.0;
  }, 6s);
  {
    const auto& n = node_row(stage_of(s, "update"));
    INFO(n.dump());
    CHECK(n["state"] == "stale");
    CHECK(n["detail"].get<std::string>().find("no answer within") != std::string::npos);
    CHECK(n["done"] == 3000);
    CHECK(n["done_per_s"] == 0);
    CHECK(stage_of(s, "update")["done"] == 0);  // no live node
    CHECK(s["seq"].get<std::uint64_t>() >= frozen_at + 2);
  }
  host.signal(SIGCONT);
  s = stats_quickly_until(node.port(), live, 5s);
  CHECK(live(s));
  CHECK(node_row(stage_of(s, "update"))["done"] == 3000);  // the same pools, answering again

  // Killed: the link goes down; the rows say lost, with the age of their last data.
  host.signal(SIGKILL);
  auto killed_at = stats_quickly(node.port())["seq"].get<std::uint64_t>();
  s = stats_quickly_until(node.port(), [](const json& x) {
    return node_row(stage_of(x, "update"))["state"] == "lost"
           && node_row(stage_of(x, "notify"))["state"] == "lost";
  }, 5s);
  for (auto name : {"update", "notify"}) {
    const auto& n = node_row(stage_of(s, name));
    INFO(name << ": " << n.dump());
    CHECK(n["state"] == "lost");
    CHECK(!n["detail"].get<std::string>().empty());
    CHECK(n["age_s"].is_number());
    CHECK(n["done"] == 3000);
  }
  REQUIRE(s["hosts"].size() == 1);
  CHECK(s["hosts"][0]["state"] == "lost");
  // And the snapshots go on.
  s = stats_quickly_until(node.port(), [&](const json& x) {
    return x["seq"].get<std::uint64_t>() >= killed_at + 2;
  }, 4s);
  CHECK(s["seq"].get<std::uint64_t>() >= killed_at + 2);
}
