// The batch decoder: every invalid_json and invalid_batch case of the contract, and the good ones.
#include "main/http/batch_decoder.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using taskpipe::http::decode_batch;
using taskpipe::http::decode_result;
using taskpipe::http::decode_status;

namespace {

/// Both decoders (the simdjson fast path, when built in, and the nlohmann reference) must give
/// the same result; returns it.
decode_result decode_both(const std::string& body, std::size_t max_tasks = SIZE_MAX) {
  auto r = decode_batch(body, max_tasks);
  auto ref = taskpipe::http::decode_batch_reference(body, max_tasks);
  INFO("body: " << body.substr(0, 200));
  CHECK(r.status == ref.status);
  CHECK(r.detail == ref.detail);
  CHECK(r.task_count == ref.task_count);
  CHECK(r.batch.tasks.size() == ref.batch.tasks.size());
  CHECK(r.batch.timeout_ms == ref.batch.timeout_ms);
  return r;
}

decode_result ok(const std::string& body) {
  auto r = decode_both(body);
  INFO("body: " << body << "\ndetail: " << r.detail);
  REQUIRE(r.status == decode_status::ok);
  return r;
}

std::string invalid_batch(const std::string& body) {
  auto r = decode_both(body);
  INFO("body: " << body.substr(0, 200) << "\ndetail: " << r.detail);
  REQUIRE(r.status == decode_status::invalid_batch);
  CHECK(r.batch.tasks.empty());
  return r.detail;
}

std::string invalid_json(const std::string& body) {
  auto r = decode_both(body);
  INFO("body: " << body.substr(0, 200) << "\ndetail: " << r.detail);
  REQUIRE(r.status == decode_status::invalid_json);
  CHECK(r.detail.rfind("invalid JSON at byte ", 0) == 0);
  return r.detail;
}

const std::string id_range = "expected an integer from 1 to 9223372036854775807";

} // namespace

TEST_CASE("decoder: the fast path is built in when simdjson is", "[http][decoder]") {
#ifdef TASKPIPE_EXPECT_SIMDJSON
  CHECK(taskpipe::http::decoder_has_fast_path());
#endif
  WARN("simdjson fast path: " << (taskpipe::http::decoder_has_fast_path() ? "yes" : "no"));
}

TEST_CASE("decoder: a full batch", "[http][decoder]") {
  auto r = ok(R"({"tasks":[{"id":17,"type":"Story","summary":"Rename login page"},)"
              R"({"id":9223372036854775807},{"summary":"only","id":1}],"timeout_ms":30000})");
  REQUIRE(r.batch.tasks.size() == 3);
  CHECK(r.task_count == 3);
  CHECK(r.batch.timeout_ms == 30000);
  CHECK(r.batch.tasks[0].id == 17);
  REQUIRE(r.batch.tasks[0].type);
  CHECK(*r.batch.tasks[0].type == "Story");
  CHECK(*r.batch.tasks[0].summary == "Rename login page");
  CHECK(r.batch.tasks[1].id == 9223372036854775807LL);
  CHECK(!r.batch.tasks[1].type);
  CHECK(!r.batch.tasks[1].summary);
  CHECK(r.batch.tasks[2].id == 1);
  CHECK(*r.batch.tasks[2].summary == "only");
}

TEST_CASE("decoder: valid edge cases", "[http][decoder]") {
  CHECK(ok(R"({"tasks":[]})").batch.tasks.empty());
  CHECK(ok(R"({"tasks":[]})").batch.timeout_ms == 0);
  CHECK(ok(" \n\t{ \"tasks\" : [ ] } \r\n").task_count == 0);
  CHECK(ok(R"({"timeout_ms":1,"tasks":[]})").batch.timeout_ms == 1);
  CHECK(ok(R"({"timeout_ms":3600000,"tasks":[]})").batch.timeout_ms == 3600000);
  // Strings are passed on as they are: Validate judges types and summaries per task.
  auto r = ok(R"({"tasks":[{"id":1,"type":"epic","summary":""},{"id":1,"summary":"a\u0000b\nc"}]})");
  CHECK(*r.batch.tasks[0].type == "epic");
  CHECK(r.batch.tasks[0].summary->empty());
  CHECK(*r.batch.tasks[1].summary == std::string("a\0b\nc", 5));
  // Escapes and multi-byte UTF-8, a surrogate pair.
  r = ok(R"({"tasks":[{"id":2,"summary":"caf\u00e9 \ud83d\ude00 ü \"q\" \\"}]})");
  CHECK(*r.batch.tasks[0].summary == "caf\xc3\xa9 \xf0\x9f\x98\x80 \xc3\xbc \"q\" \\");
  // A UTF-8 byte order mark is skipped.
  CHECK(ok("\xEF\xBB\xBF{\"tasks\":[]}").task_count == 0);
}

TEST_CASE("decoder: invalid_json names the byte offset", "[http][decoder]") {
  CHECK(invalid_json("") == "invalid JSON at byte 0: empty body");
  CHECK(invalid_json("   ").find("byte 3") != std::string::npos);
  // Truncated documents: the offset is the end of the input.
  CHECK(invalid_json(R"({"tasks":[{"id":1})").find("byte 18") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[{"id":1}]")").find("byte ") != std::string::npos);
  CHECK(invalid_json(R"({"tasks")").find("byte 8") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[{"id":1,"summary":"abc)").find("byte 32") != std::string::npos);
  // The offending byte.
  CHECK(invalid_json(R"({"tasks":]})").find("byte 9") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[],})").find("byte 12") != std::string::npos);
  CHECK(invalid_json(R"({'tasks':[]})").find("byte 1") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[{"id":01}]})").find("byte ") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[{"id":+1}]})").find("byte 16") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[{"id":NaN}]})").find("byte ") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[]} x)").find("byte 13") != std::string::npos);
  CHECK(invalid_json(R"({"tasks":[]}{})").find("byte 12") != std::string::npos);
  // A NUL byte is not JSON, wherever it is (nlohmann alone would stop reading at it).
  CHECK(invalid_json(std::string("{\"tasks\":[]}\0", 13)) == "invalid JSON at byte 12: unexpected NUL byte");
  CHECK(invalid_json(std::string("{\"tasks\":[]}\0garbage", 20)).find("byte 12") != std::string::npos);
  CHECK(invalid_json(std::string("{\"tasks\":[\0]}", 13)).find("byte 10: unexpected NUL") != std::string::npos);
  CHECK(invalid_json(std::string("{\"tasks\":[{\"id\":1,\"summary\":\"a\0\"}]}", 35)).find("byte 30") != std::string::npos);
  CHECK(invalid_json(std::string("{\"tasks\":]\0", 12)).find("byte 9:") != std::string::npos);
  CHECK(invalid_json("nul").find("byte ") != std::string::npos);
  // Raw control characters inside strings are not JSON.
  invalid_json("{\"tasks\":[{\"id\":1,\"summary\":\"a\nb\"}]}");
  // Comments are not JSON.
  invalid_json("{\"tasks\":[] /* c */}");
}

TEST_CASE("decoder: invalid UTF-8 and lone surrogates are invalid_json", "[http][decoder]") {
  // 0xFF can never appear in UTF-8; at byte 29 (inside the summary).
  auto d = invalid_json("{\"tasks\":[{\"id\":1,\"summary\":\"\xff\"}]}");
  CHECK(d.find("byte 29") != std::string::npos);
  CHECK(d.find("UTF-8") != std::string::npos);
  invalid_json("{\"tasks\":[{\"id\":1,\"summary\":\"\xc3\"}]}");           // truncated sequence
  invalid_json("{\"tasks\":[{\"id\":1,\"summary\":\"\xc0\xaf\"}]}");       // overlong '/'
  invalid_json("{\"tasks\":[{\"id\":1,\"summary\":\"\xed\xa0\x80\"}]}");   // encoded surrogate
  invalid_json("{\"tasks\":[{\"id\":1,\"summary\":\"\xf4\x90\x80\x80\"}]}");  // above U+10FFFF
  invalid_json("{\"tasks\":[{\"id\":1,\"type\":\"\x80\"}]}");              // lone continuation
  invalid_json("{\"ta\xffsks\":[]}");                                        // in a key
  // Lone surrogate escapes.
  d = invalid_json(R"({"tasks":[{"id":1,"summary":"\ud800"}]})");
  CHECK(d.find("surrogate") != std::string::npos);
  invalid_json(R"({"tasks":[{"id":1,"summary":"\udc00"}]})");
  invalid_json(R"({"tasks":[{"id":1,"summary":"\ud800\u0041"}]})");
  invalid_json(R"({"tasks":[{"id":1,"summary":"\ud83d"}]})");
  invalid_json(R"({"tasks":[{"id":1,"summary":"\u12"}]})");
  invalid_json(R"({"tasks":[{"id":1,"summary":"\x41"}]})");
}

TEST_CASE("decoder: nesting depth is bounded", "[http][decoder]") {
  // Deep nesting in an unknown field: rejected at the limit, never recursing.
  std::string deep = R"({"tasks":[{"id":1,"x":)" + std::string(100000, '[') + std::string(100000, ']')
                     + "}]}";
  auto d = invalid_json(deep);
  CHECK(d.find("nesting deeper than 64") != std::string::npos);
  // The first container over the limit: 3 levels before the field at byte 22, so 22 + 61.
  CHECK(d.find("byte 83:") != std::string::npos);
  // Deep and truncated.
  invalid_json(std::string(1'000'000, '['));
  invalid_json(std::string(1'000'000, '{'));
  // Deep but within the limit: well-formed, off-schema.
  std::string fine = R"({"tasks":[{"id":1,"x":)" + std::string(50, '[') + std::string(50, ']') + "}]}";
  CHECK(invalid_batch(fine) == "tasks[0].x: unknown field; expected id, type or summary");
}

TEST_CASE("decoder: malformed beats off-schema", "[http][decoder]") {
  // An unknown field first, then a syntax error: the body is not JSON, so invalid_json.
  invalid_json(R"({"bogus":1,"tasks":[{"id":1}])");
  invalid_json(R"({"tasks":[{"id":0}]}})");
  invalid_json("{\"tasks\":[{\"id\":-1,\"summary\":\"\xff\"}]}");
}

TEST_CASE("decoder: the root", "[http][decoder]") {
  auto root = std::string{"body: expected a JSON object with a \"tasks\" array"};
  CHECK(invalid_batch("[]") == root);
  CHECK(invalid_batch("[{\"id\":1}]") == root);
  CHECK(invalid_batch("null") == root);
  CHECK(invalid_batch("17") == root);
  CHECK(invalid_batch("\"tasks\"") == root);
  CHECK(invalid_batch("true") == root);
  CHECK(invalid_batch("{}") == "tasks: missing; expected an array of tasks");
  CHECK(invalid_batch(R"({"timeout_ms":5})") == "tasks: missing; expected an array of tasks");
  CHECK(invalid_batch(R"({"tasks":null})") == "tasks: expected an array of tasks");
  CHECK(invalid_batch(R"({"tasks":{}})") == "tasks: expected an array of tasks");
  CHECK(invalid_batch(R"({"tasks":"[]"})") == "tasks: expected an array of tasks");
  CHECK(invalid_batch(R"({"tasks":1})") == "tasks: expected an array of tasks");
  CHECK(invalid_batch(R"({"tasks":[],"tasks":[]})") == "tasks: duplicate key");
  CHECK(invalid_batch(R"({"tasks":[],"extra":true})")
        == "extra: unknown field; expected tasks or timeout_ms");
  CHECK(invalid_batch(R"({"Tasks":[]})") == "Tasks: unknown field; expected tasks or timeout_ms");
  CHECK(invalid_batch(R"({"":[]})") == "\"\": unknown field; expected tasks or timeout_ms");
  CHECK(invalid_batch(R"({"a b\"c":[]})")
        == "\"a b\\\"c\": unknown field; expected tasks or timeout_ms");
  // A huge unknown key is shortened in the detail.
  auto long_key = invalid_batch("{\"" + std::string(10000, 'k') + "\":1,\"tasks\":[]}");
  CHECK(long_key.size() < 200);
}

TEST_CASE("decoder: timeout_ms", "[http][decoder]") {
  auto msg = std::string{"timeout_ms: expected an integer from 1 to 3600000"};
  for (auto bad : {"0", "-1", "3600001", "1.5", "1e3", "1000.0", "null", "\"100\"", "true", "[]",
                   "{}", "18446744073709551616", "-0"}) {
    INFO(bad);
    CHECK(invalid_batch(std::string{R"({"tasks":[],"timeout_ms":)"} + bad + "}") == msg);
  }
  CHECK(invalid_batch(R"({"timeout_ms":5,"tasks":[],"timeout_ms":6})")
        == "timeout_ms: duplicate key");
}

TEST_CASE("decoder: task ids", "[http][decoder]") {
  auto path = [](int i) { return "tasks[" + std::to_string(i) + "].id: " + id_range; };
  for (auto bad : {"0", "-1", "-9223372036854775808", "9223372036854775808",
                   "18446744073709551615", "18446744073709551616", "1e3", "1E3", "1.0", "1.5",
                   "0.0", "-0", "1e-3", "null", "true", "false", "\"17\"", "[]", "{}", "[1]",
                   "100000000000000000000000000000"}) {
    INFO(bad);
    CHECK(invalid_batch(std::string{R"({"tasks":[{"id":1},{"id":2},{"id":3},{"id":)"} + bad
                        + "}]}")
          == path(3));
  }
  CHECK(invalid_batch(R"({"tasks":[{"type":"Story"}]})")
        == "tasks[0].id: missing; " + id_range);
  CHECK(invalid_batch(R"({"tasks":[{}]})") == "tasks[0].id: missing; " + id_range);
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"id":2}]})") == "tasks[0].id: duplicate key");
}

TEST_CASE("decoder: task fields", "[http][decoder]") {
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"type":null}]})") == "tasks[0].type: expected a string");
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"type":1}]})") == "tasks[0].type: expected a string");
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"type":["Epic"]}]})")
        == "tasks[0].type: expected a string");
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"summary":null}]})")
        == "tasks[0].summary: expected a string");
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"summary":false}]})")
        == "tasks[0].summary: expected a string");
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"summary":{"text":"x"}}]})")
        == "tasks[0].summary: expected a string");
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"summary":"a","summary":"b"}]})")
        == "tasks[0].summary: duplicate key");
  CHECK(invalid_batch(R"({"tasks":[{"id":1,"type":"Epic","type":"Epic"}]})")
        == "tasks[0].type: duplicate key");
  CHECK(invalid_batch(R"({"tasks":[{"id":1},{"id":2,"priority":3}]})")
        == "tasks[1].priority: unknown field; expected id, type or summary");
  CHECK(invalid_batch(R"({"tasks":[{"id":1},null]})") == "tasks[1]: expected an object");
  CHECK(invalid_batch(R"({"tasks":[1]})") == "tasks[0]: expected an object");
  CHECK(invalid_batch(R"({"tasks":[[{"id":1}]]})") == "tasks[0]: expected an object");
  CHECK(invalid_batch(R"({"tasks":["x"]})") == "tasks[0]: expected an object");
  // The first error in document order wins.
  CHECK(invalid_batch(R"({"tasks":[{"id":0,"type":null}],"x":1})") == "tasks[0].id: " + id_range);
  CHECK(invalid_batch(R"({"x":1,"tasks":[{"id":0}]})")
        == "x: unknown field; expected tasks or timeout_ms");
}

TEST_CASE("decoder: huge strings pass through", "[http][decoder]") {
  std::string big(5'000'000, 'a');
  auto r = ok(R"({"tasks":[{"id":1,"summary":")" + big + R"("}]})");
  CHECK(r.batch.tasks[0].summary->size() == big.size());
}

TEST_CASE("decoder: max_tasks bounds what is kept, not what is counted", "[http][decoder]") {
  std::string body = R"({"tasks":[)";
  for (int i = 1; i <= 100; ++i)
    body += (i > 1 ? "," : "") + std::string{R"({"id":)"} + std::to_string(i) + "}";
  body += "]}";
  auto r = decode_both(body, 10);
  REQUIRE(r.status == decode_status::ok);
  CHECK(r.task_count == 100);
  CHECK(r.batch.tasks.size() == 10);
  // An invalid task past the limit is still found.
  body.insert(body.size() - 2, R"(,{"id":0})");
  CHECK(decode_both(body, 10).status == decode_status::invalid_batch);
  CHECK(decode_both(body, 10).detail == "tasks[100].id: " + id_range);
}

TEST_CASE("decoder: detail and result stay clean on errors", "[http][decoder]") {
  auto r = decode_batch(R"({"tasks":[{"id":1},{"id":2},{"id":0}]})");
  CHECK(r.status == decode_status::invalid_batch);
  CHECK(r.batch.tasks.empty());
  CHECK(r.task_count == 0);
  // nlohmann's "last read" echo of client bytes is not in the detail.
  auto d = invalid_json("{\"tasks\":[{\"id\":1,\"summary\":\"" + std::string(1000, 'x') + "\xff\"}]}");
  CHECK(d.size() < 200);
}
