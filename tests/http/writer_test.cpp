// JSON bodies and the Prometheus text of the HTTP front.
#include "main/http/json_writer.hpp"
#include "main/http/metrics_text.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace taskpipe;
using namespace taskpipe::http;

namespace {

task_failure failure(std::int64_t id, std::uint32_t index, stage where, failure_code code,
                     std::string reason) {
  task_failure f;
  f.id = id;
  f.index = index;
  f.where = where;
  f.code = code;
  f.reason = std::move(reason);
  return f;
}

batch_report sample_report() {
  batch_report r;
  r.batch_id = "b-000000000000002a";
  r.state = batch_state::done;
  r.total = 1000;
  r.succeeded = 997;
  r.failed = 3;
  r.elapsed_ms = 2003.4;
  r.failures.push_back(failure(9, 5, stage::validate, failure_code::invalid_type, "type \"x\""));
  r.failures.push_back(failure(1, 0, stage::validate, failure_code::not_found,
                               "task 1 does not exist"));
  r.failures.push_back(failure(9, 2, stage::notify, failure_code::storage_error, "disk full"));
  return r;
}

} // namespace

TEST_CASE("writer: the batch report is the contract's, failures sorted by id", "[http][writer]") {
  auto text = report_json(sample_report()).joined();
  CHECK(text.rfind(R"({"batch_id":"b-000000000000002a","state":"done","total":1000,)"
                   R"("succeeded":997,"failed":3,"elapsed_ms":2003.4,"failures":[)",
                   0)
        == 0);
  auto j = nlohmann::json::parse(text);
  CHECK(!j.contains("pending"));
  REQUIRE(j["failures"].size() == 3);
  CHECK(j["failures"][0]["id"] == 1);
  CHECK(j["failures"][0]["stage"] == "validate");
  CHECK(j["failures"][0]["code"] == "not_found");
  CHECK(j["failures"][0]["reason"] == "task 1 does not exist");
  // Same id: by position.
  CHECK(j["failures"][1]["code"] == "storage_error");
  CHECK(j["failures"][2]["code"] == "invalid_type");
  CHECK(j["failures"][2]["reason"] == "type \"x\"");
  CHECK(j["elapsed_ms"].is_number());
}

TEST_CASE("writer: status with pending, failures once done", "[http][writer]") {
  auto r = sample_report();
  r.state = batch_state::running;
  r.pending = 10;
  auto j = nlohmann::json::parse(status_json(r).joined());
  CHECK(j["state"] == "running");
  CHECK(j["pending"] == 10);
  CHECK(!j.contains("failures"));
  r.pending = 0;
  r.state = batch_state::cancelled;
  j = nlohmann::json::parse(status_json(r).joined());
  CHECK(j["state"] == "cancelled");
  CHECK(j["failures"].size() == 3);
  for (auto key : {"batch_id", "state", "total", "succeeded", "failed", "pending", "elapsed_ms"})
    CHECK(j.contains(key));
}

TEST_CASE("writer: accepted, task and error bodies", "[http][writer]") {
  auto j = nlohmann::json::parse(accepted_json("b-0000000000000001"));
  CHECK(j["batch_id"] == "b-0000000000000001");
  CHECK(j["status_url"] == "/v1/batches/b-0000000000000001");
  stored_task t{17, "Story", "Rename \"login\"\n", 2, "2026-11-27T23:01:02.345Z"};
  j = nlohmann::json::parse(task_json(t));
  CHECK(j["id"] == 17);
  CHECK(j["type"] == "Story");
  CHECK(j["summary"] == "Rename \"login\"\n");
  CHECK(j["version"] == 2);
  CHECK(j["updated_at"] == "2026-11-27T23:01:02.345Z");
  j = nlohmann::json::parse(error_json("invalid_json", "bad \x01 byte"));
  CHECK(j["error"] == "invalid_json");
  CHECK(j["detail"] == "bad \x01 byte");
}

TEST_CASE("writer: strings are always valid JSON and UTF-8", "[http][writer]") {
  std::string out;
  append_json_string(out, std::string("a\0b\x7f\t\"\\\xc3\xa9\xff\xed\xa0\x80\xf0\x9f\x98\x80", 17));
  CHECK(out == "\"a\\u0000b\\u007f\\t\\\"\\\\\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
               "\xf0\x9f\x98\x80\"");
  CHECK_NOTHROW(nlohmann::json::parse(out));
}

TEST_CASE("writer: numbers", "[http][writer]") {
  auto num = [](double x) {
    std::string s;
    append_json_number(s, x);
    return s;
  };
  CHECK(num(2003.4) == "2003.4");
  CHECK(num(0.0004) == "0");
  CHECK(num(0.1234) == "0.123");
  CHECK(num(7) == "7");
  CHECK(num(-0.0) == "0");
  CHECK(num(std::numeric_limits<double>::infinity()) == "0");
  CHECK(num(std::nan("")) == "0");
}

TEST_CASE("metrics: the contract's series in Prometheus text", "[http][metrics]") {
  pipeline_metrics m;
  m.count(stage::validate, true, 10);
  m.count(stage::validate, false, 2);
  m.count(stage::notify, true, 8);
  m.count(stage::pipeline, false, 1);
  m.observe_latency(stage::validate, 0.0005, 3);
  m.observe_latency(stage::validate, 0.3, 1);
  m.observe_latency(stage::validate, 20.0, 1);
  m.tasks_in_flight = 42;
  m.batches_done = 5;
  m.batches_cancelled = 1;
  http_counters h;
  h.count_response(200);
  h.count_response(200);
  h.count_response(418);
  auto text = render_metrics(&m, &h);
  auto has = [&](const std::string& line) {
    INFO(line);
    CHECK(text.find(line + "\n") != std::string::npos);
  };
  has("# TYPE taskpipe_tasks_total counter");
  has("taskpipe_tasks_total{stage=\"validate\",outcome=\"succeeded\"} 10");
  has("taskpipe_tasks_total{stage=\"validate\",outcome=\"failed\"} 2");
  has("taskpipe_tasks_total{stage=\"notify\",outcome=\"succeeded\"} 8");
  has("taskpipe_tasks_total{stage=\"audit\",outcome=\"succeeded\"} 0");
  has("taskpipe_tasks_total{stage=\"pipeline\",outcome=\"failed\"} 1");
  has("# TYPE taskpipe_stage_latency_seconds histogram");
  has("taskpipe_stage_latency_seconds_bucket{stage=\"validate\",le=\"0.001\"} 3");
  has("taskpipe_stage_latency_seconds_bucket{stage=\"validate\",le=\"0.25\"} 3");
  has("taskpipe_stage_latency_seconds_bucket{stage=\"validate\",le=\"0.5\"} 4");
  has("taskpipe_stage_latency_seconds_bucket{stage=\"validate\",le=\"10\"} 4");
  has("taskpipe_stage_latency_seconds_bucket{stage=\"validate\",le=\"+Inf\"} 5");
  has("taskpipe_stage_latency_seconds_count{stage=\"validate\"} 5");
  has("taskpipe_stage_latency_seconds_sum{stage=\"validate\"} 20.3015");
  has("taskpipe_stage_latency_seconds_bucket{stage=\"notify\",le=\"+Inf\"} 0");
  has("# TYPE taskpipe_tasks_in_flight gauge");
  has("taskpipe_tasks_in_flight 42");
  has("taskpipe_batches_total{state=\"done\"} 5");
  has("taskpipe_batches_total{state=\"cancelled\"} 1");
  has("taskpipe_http_responses_total{code=\"200\"} 2");
  has("taskpipe_http_responses_total{code=\"other\"} 1");
  has("taskpipe_http_connections_open 0");
  // Every line is a comment or `name{labels} value`.
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    REQUIRE(end != std::string::npos);
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("# ", 0) == 0)
      continue;
    INFO(line);
    CHECK(line.rfind("taskpipe_", 0) == 0);
    CHECK(line.find(' ') != std::string::npos);
  }
}
