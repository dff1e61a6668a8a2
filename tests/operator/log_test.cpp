// The log: one event per line on stderr, text or JSON lines with ts/level/component/msg and the
// event's own fields; --log-level filters. Both the formatter alone and a real `taskpipe serve`.
#include "main/log.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/serve_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <regex>

using namespace taskpipe;
using namespace taskpipe::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::regex rfc3339_ms{R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)"};

/// Every stderr line as JSON, each with the four fields every event has.
std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (const auto& line : lines(text)) {
    INFO(line);
    auto j = json::parse(line);  // throws (fails the test) when a line is not one JSON object
    REQUIRE(j.is_object());
    REQUIRE(j["ts"].is_string());
    CHECK(std::regex_match(j["ts"].get<std::string>(), rfc3339_ms));
    CHECK((j["level"] == "error" || j["level"] == "warn" || j["level"] == "info"
           || j["level"] == "debug"));
    CHECK(j["component"].is_string());
    CHECK(j["msg"].is_string());
    out.push_back(std::move(j));
  }
  return out;
}

const json* find_msg(const std::vector<json>& events, const std::string& needle) {
  for (const auto& e : events)
    if (e["msg"].get<std::string>().find(needle) != std::string::npos)
      return &e;
  return nullptr;
}

} // namespace

TEST_CASE("log: a JSON event is one parseable line with its fields", "[operator][log]") {
  auto at = std::chrono::system_clock::time_point{std::chrono::milliseconds{1'764'000'000'123}};
  auto line = log::format_line(log::format::json, log::level::info, at, "http",
                               "POST /v1/batches 200",
                               {{"status", 200}, {"bytes", std::uint64_t{95}},
                                {"duration_ms", 1.25}, {"batch_id", "b-0123456789abcdef"},
                                {"keep_alive", true}});
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto j = json::parse(line);
  CHECK(j["ts"] == "2025-11-24T16:00:00.123Z");
  CHECK(j["level"] == "info");
  CHECK(j["component"] == "http");
  CHECK(j["msg"] == "POST /v1/batches 200");
  CHECK(j["status"] == 200);
  CHECK(j["bytes"] == 95);
  CHECK(j["duration_ms"].get<double>() == Approx(1.25));
  CHECK(j["batch_id"] == "b-0123456789abcdef");
  CHECK(j["keep_alive"] == true);
}

TEST_CASE("log: client text cannot break a line or the JSON", "[operator][log]") {
  // A path with a newline, a quote, a control character and bytes that are not UTF-8.
  std::string nasty = "/v1/x\n\"y\"\x01\xff\xc3(\xe2\x82\xac";
  auto now = std::chrono::system_clock::now();
  auto j_line = log::format_line(log::format::json, log::level::warn, now, "http", nasty,
                                 {{"path", nasty}});
  CHECK(j_line.find('\n') == j_line.size() - 1);
  auto j = json::parse(j_line);
  CHECK(j["path"] == j["msg"]);
  CHECK(j["msg"].get<std::string>().find("\xe2\x82\xac") != std::string::npos);  // valid UTF-8 kept
  CHECK(j["msg"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD

  auto t_line = log::format_line(log::format::text, log::level::warn, now, "http", nasty,
                                 {{"path", nasty}, {"n", 3}});
  CHECK(t_line.find('\n') == t_line.size() - 1);
  CHECK(std::regex_search(t_line, std::regex{R"(^\d{4}-\d{2}-\d{2}T[0-9:.]+Z warn  http: )"}));
  CHECK(t_line.find(" n=3\n") != std::string::npos);
  CHECK(t_line.find(R"(path="/v1/x\\n\"y\"\\x01)") != std::string::npos);
}

TEST_CASE("log: levels and formats parse and nothing else does", "[operator][log]") {
  log::level l;
  log::format f;
  CHECK(log::parse_level("debug", l));
  CHECK(l == log::level::debug);
  CHECK_FALSE(log::parse_level("verbose", l));
  CHECK(log::parse_format("json", f));
  CHECK_FALSE(log::parse_format("xml", f));
  auto bad = taskpipe_exec({"serve", "--log-level=loud"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--log-level=loud: expected error, warn, info or debug") != std::string::npos);
  bad = taskpipe_exec({"serve", "--log-format=xml"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--log-format=xml") != std::string::npos);
}

TEST_CASE("log: serve logs start-up and drain as JSON lines", "[operator][log]") {
  temp_dir dir;
  std::vector<json> events;
  {
    serve_process proc{{"--listen=127.0.0.1:0", "--store=sqlite", "--db=" + dir.path() + "/t.db",
                        "--log-format=json"}};
    proc.signal(SIGTERM);
    REQUIRE(proc.wait_exit(20s) == 0);
    events = json_lines(proc.stderr_text());
  }
  auto store = find_msg(events, "store sqlite");
  REQUIRE(store != nullptr);
  CHECK((*store)["store"] == "sqlite");
  CHECK((*store)["level"] == "info");
  auto listening = find_msg(events, "listening on 127.0.0.1:");
  REQUIRE(listening != nullptr);
  CHECK((*listening)["component"] == "http");
  CHECK((*listening)["address"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
  auto draining = find_msg(events, "SIGTERM: draining");
  REQUIRE(draining != nullptr);
  CHECK((*draining)["signal"] == "SIGTERM");
  REQUIRE(find_msg(events, "drained, exiting") != nullptr);
}

TEST_CASE("log: text lines by default and --log-level=warn keeps info out", "[operator][log]") {
  {
    serve_process proc{{"--listen=127.0.0.1:0", "--store=memory"}};
    proc.signal(SIGTERM);
    REQUIRE(proc.wait_exit(20s) == 0);
    auto text = proc.stderr_text();
    INFO(text);
    auto all = lines(text);
    REQUIRE(!all.empty());
    for (const auto& l : all)
      CHECK(std::regex_search(l, std::regex{R"(^\d{4}-\d{2}-\d{2}T[0-9:.]{12}Z (error|warn |info |debug) \w+: )"}));
    CHECK(text.find("info  http: listening on 127.0.0.1:") != std::string::npos);
  }
  serve_process quiet{{"--listen=127.0.0.1:0", "--store=memory", "--log-level=warn"}};
  quiet.signal(SIGTERM);
  REQUIRE(quiet.wait_exit(20s) == 0);
  CHECK(quiet.stderr_text().empty());
}
