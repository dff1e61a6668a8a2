// `taskpipe serve` as a real process, attacked as an attacker would (issue 10): every route's
// body limit checked against Content-Length before anything is allocated; what the parser may
// buffer (chunk-size lines, extensions, trailers) capped; Transfer-Encoding framing; HEAD; the
// budget of body bytes in flight; decoding and rendering off the I/O thread; the connection cap.
// Each case checks that the node stays healthy, that its memory stays within a stated bound
// (read from /proc/PID/status), and that exactly one response comes where one is due.
#include "support/http_client.hpp"
#include "support/serve_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

using namespace taskpipe::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t mib = 1024;  // in KiB, the unit of /proc/PID/status

std::vector<std::string> serve_args(std::vector<std::string> extra) {
  std::vector<std::string> args{"--listen=127.0.0.1:0", "--store=memory", "--seed-tasks=100"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

void healthy(const serve_process& proc) {
  auto r = http_call(proc.port(), http_request{"GET", "/healthz", {}, {}});
  INFO(r.error);
  CHECK(r.status == 200);
}

/// A valid one-task batch padded with spaces to exactly `bytes` bytes.
std::string padded_batch(std::size_t bytes, std::int64_t id = 1) {
  std::string body = R"({"tasks":[{"id":)" + std::to_string(id) + R"(,"type":"Epic"}])";
  body.append(bytes - body.size() - 1, ' ');
  return body + "}";
}

std::string post_head(std::string_view extra_headers) {
  return "POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         + std::string{extra_headers} + "\r\n";
}

/// The value of one metric line of /metrics ("name value"), -1 if absent.
double metric(std::uint16_t port, const std::string& name) {
  auto r = http_call(port, http_request{"GET", "/metrics", {}, {}});
  auto pos = r.body.find("\n" + name + " ");
  if (pos == std::string::npos)
    return -1;
  return std::atof(r.body.c_str() + pos + name.size() + 2);
}

/// Polls until `metric(name) == value` (or `timeout` passes).
bool metric_reaches(std::uint16_t port, const std::string& name, double value,
                    milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (metric(port, name) == value)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

/// Checks a raw exchange: exactly one response, with `status`, and the connection closed.
void one_closing_response(const std::string& raw, int status) {
  INFO(raw.substr(0, 600));
  CHECK(raw_status(raw) == status);
  CHECK(raw_response_count(raw) == 1);
  CHECK(raw.find("Connection: close\r\n") != std::string::npos);
}

} // namespace

TEST_CASE("hardening: a Content-Length over any route's limit is refused before it is read",
          "[http][hardening]") {
  temp_dir dir;
  std::ofstream{dir.path() + "/token"} << "tok\n";
  serve_process proc{serve_args({"--api-token-file=" + dir.path() + "/token",
                                 "--max-body-bytes=1000000"})};
  auto peak_before = proc.peak_rss_kib();
  const std::string huge = "Content-Length: 1099511627776\r\n";  // 1 TiB, one byte sent
  const std::string auth = "Authorization: Bearer tok\r\n";
  struct attempt {
    std::string request_line;
    std::string headers;
    int status;
  };
  std::vector<attempt> attempts{
    {"GET /healthz", "", 400},  // no token needed: the node itself must hold
    {"GET /healthz", auth, 400},
    {"GET /metrics", auth, 400},
    {"GET /v1/tasks/1", auth, 400},
    {"GET /v1/batches/b-0000000000000001", auth, 400},
    {"DELETE /v1/batches/b-0000000000000001", auth, 400},
    {"POST /v1/batches", auth + "Content-Type: application/json\r\n", 413},
    {"GET /v1/tasks/1", "", 401},
  };
  for (auto& a : attempts) {
    INFO(a.request_line << " " << a.headers);
    auto raw = raw_exchange(proc.port(),
                            a.request_line + " HTTP/1.1\r\nHost: x\r\n" + a.headers + huge
                              + "\r\nx",
                            3s);
    one_closing_response(raw, a.status);
    REQUIRE(proc.running());
  }
  healthy(proc);
  CHECK(proc.peak_rss_kib() < peak_before + 16 * mib);
}

TEST_CASE("hardening: a body sent to a route that takes none is not buffered",
          "[http][hardening]") {
  serve_process proc{serve_args({})};
  auto peak_before = proc.peak_rss_kib();
  // Declared 256 MiB, 64 MiB actually sent.
  auto by_length = raw_stream(proc.port(),
                              "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\n\r\n",
                              'x', 64ULL << 20);
  one_closing_response(by_length.received, 400);
  CHECK(by_length.received.find("takes no body") != std::string::npos);
  // Chunked: one 64 MiB chunk.
  auto chunked = raw_stream(proc.port(),
                            "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4000000\r\n",
                            'x', 64ULL << 20);
  one_closing_response(chunked.received, 400);
  REQUIRE(proc.running());
  healthy(proc);
  INFO("peak RSS before " << peak_before << " KiB, after " << proc.peak_rss_kib() << " KiB");
  CHECK(proc.peak_rss_kib() < peak_before + 24 * mib);
}

TEST_CASE("hardening: endless chunk-size lines, chunk extensions and trailers are cut off",
          "[http][hardening]") {
  serve_process proc{serve_args({})};
  auto peak_before = proc.peak_rss_kib();
  auto head = post_head("Transfer-Encoding: chunked\r\n");
  struct attempt {
    std::string what;
    std::string start;
    char filler;
  };
  std::vector<attempt> attempts{
    {"a chunk-size line that never ends", "1", '0'},
    {"an endless chunk extension", "1;ext=", 'a'},
    {"an endless trailer", "5\r\nhello\r\n0\r\nX-Trailer: ", 'a'},
    {"endless trailer lines", "5\r\nhello\r\n0\r\n", 'a'},
  };
  for (auto& a : attempts) {
    INFO(a.what);
    auto r = raw_stream(proc.port(), head + a.start, a.filler, 48ULL << 20);
    one_closing_response(r.received, 400);
    CHECK(r.received.find("bad_request") != std::string::npos);
    REQUIRE(proc.running());
  }
  healthy(proc);
  INFO("peak RSS before " << peak_before << " KiB, after " << proc.peak_rss_kib() << " KiB");
  CHECK(proc.peak_rss_kib() < peak_before + 24 * mib);
}

TEST_CASE("hardening: Transfer-Encoding not ending in chunked is 400 and closes (no smuggling)",
          "[http][hardening]") {
  temp_dir dir;
  std::ofstream{dir.path() + "/token"} << "tok\n";
  serve_process proc{serve_args({"--api-token-file=" + dir.path() + "/token"})};
  const std::string auth = "Authorization: Bearer tok\r\n";
  const std::string smuggled = "GET /v1/tasks/1 HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n";
  for (auto te : {"identity", "gzip", "chunked, identity", "gzip, deflate", "chunkedx"}) {
    for (auto request : {post_head(auth + "Transfer-Encoding: " + te + "\r\n"),
                         "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + std::string{te}
                           + "\r\n\r\n",
                         // Framing comes before the token: the request's end is unknown.
                         post_head("Transfer-Encoding: " + std::string{te} + "\r\n")}) {
      INFO(request);
      auto raw = raw_exchange(proc.port(), request + smuggled, 3s);
      one_closing_response(raw, 400);
      CHECK(raw.find("Transfer-Encoding") != std::string::npos);
      CHECK(raw.find("\"summary\"") == std::string::npos);  // the smuggled GET never ran
    }
  }
  // Chunked as the last coding is read as chunked.
  std::string body = R"({"tasks":[{"id":1,"type":"Epic"}]})";
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", body.size());
  auto raw = raw_exchange(proc.port(),
                          post_head(auth + "Transfer-Encoding: chunked\r\nConnection: close\r\n")
                            + size + "\r\n" + body + "\r\n0\r\n\r\n",
                          5s);
  CHECK(raw_status(raw) == 200);
  REQUIRE(proc.running());
  healthy(proc);
}

TEST_CASE("hardening: HEAD answers like GET, without a body", "[http][hardening]") {
  serve_process proc{serve_args({})};
  // On one connection: the HEAD answer ends with its header, so the GET's answer comes next.
  auto raw = raw_exchange(proc.port(),
                          "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          3s);
  INFO(raw);
  CHECK(raw_status(raw) == 200);
  auto end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  CHECK(raw.substr(0, end).find("Content-Length: 15") != std::string::npos);
  CHECK(raw.compare(end + 4, 13, "HTTP/1.1 200 ") == 0);
  CHECK(raw_response_count(raw) == 2);
  CHECK(raw.size() - raw.rfind(R"({"status":"ok"})") == 15);
  struct attempt {
    std::string target;
    int status;
  };
  for (auto& a : std::vector<attempt>{{"/healthz", 200},
                                      {"/metrics", 200},
                                      {"/v1/tasks/1", 200},
                                      {"/v1/tasks/999", 404},
                                      {"/v1/batches/b-0000000000000001", 404},
                                      {"/v1/batches", 405},
                                      {"/nope", 404},
                                      {"/healthz?x=1", 400}}) {
    INFO(a.target);
    auto r = raw_exchange(proc.port(),
                          "HEAD " + a.target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          3s);
    CHECK(raw_status(r) == a.status);
    CHECK(raw_response_count(r) == 1);
    CHECK(r.find("\r\n\r\n") + 4 == r.size());  // nothing after the header
  }
  healthy(proc);
}

TEST_CASE("hardening: --max-body-bytes-in-flight refuses with 503 overloaded",
          "[http][hardening]") {
  serve_process proc{serve_args({"--max-body-bytes-in-flight=10000000", "--latency=3000"})};
  const std::string name = "taskpipe_http_body_bytes_in_flight";
  auto body = padded_batch(6'000'000);
  auto head = post_head("Content-Length: 6000000\r\n");
  // A holds 6 MB of budget while its body arrives.
  raw_connection a{proc.port()};
  REQUIRE(a.send(head + body.substr(0, 1'000'000)));
  REQUIRE(metric_reaches(proc.port(), name, 6'000'000));
  // B does not fit beside it: refused before its body is read.
  auto b = raw_until_response(proc.port(), head, 3s);
  one_closing_response(b, 503);
  CHECK(b.find("\"overloaded\"") != std::string::npos);
  CHECK(b.find("--max-body-bytes-in-flight=10000000") != std::string::npos);
  CHECK(b.find("Retry-After: 1\r\n") != std::string::npos);
  // A chunked body is charged as it arrives.
  auto chunk = raw_stream(proc.port(),
                          post_head("Transfer-Encoding: chunked\r\n") + "500000\r\n", ' ',
                          5ULL << 20, 1s);
  one_closing_response(chunk.received, 503);
  // A's batch is admitted once its body is decoded: the raw body no longer counts, although its
  // batch is still running (wait=true, 4 x 3 s), so a second 6 MB body fits.
  REQUIRE(a.send(body.substr(1'000'000)));
  REQUIRE(metric_reaches(proc.port(), name, 0, 60s));  // decoding takes a while under ASan
  CHECK(metric(proc.port(), "taskpipe_http_requests_in_progress") >= 1);
  auto again = http_call(proc.port(), http_request::post_json("/v1/batches", body), 60s);
  CHECK(again.status == 200);
  auto first = a.read(60s, true);
  CHECK(raw_status(first) == 200);
  healthy(proc);
}

TEST_CASE("hardening: a batch waited for does not keep its raw body", "[http][hardening]") {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's quarantine would hold the freed bodies: give them back at once.
  std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  ::setenv("ASAN_OPTIONS", (asan + ":quarantine_size_mb=0").c_str(), 1);
#endif
  // Each batch runs 4 x 60 s (the process is killed long before): all six are still waiting
  // when the RSS is read, however slow the build.
  serve_process proc{serve_args({"--latency=60000", "--batch-timeout=3600000"})};
  auto body = padded_batch(50ULL << 20);
  auto head = post_head("Content-Length: " + std::to_string(body.size()) + "\r\n");
  auto rss_before = proc.rss_kib();
  // Six 50 MiB one-task bodies (wait=true), one after the other once the previous is admitted.
  std::vector<std::unique_ptr<raw_connection>> waiting;
  for (int i = 1; i <= 6; ++i) {
    waiting.push_back(std::make_unique<raw_connection>(proc.port()));
    REQUIRE(waiting.back()->send(head + body));
    INFO("batch " << i << ", in flight " << metric(proc.port(), "taskpipe_tasks_in_flight")
                   << ", body bytes " << metric(proc.port(), "taskpipe_http_body_bytes_in_flight"));
    REQUIRE(metric_reaches(proc.port(), "taskpipe_tasks_in_flight", i, 60s));
  }
  CHECK(metric(proc.port(), "taskpipe_http_body_bytes_in_flight") == 0);
  auto rss_waiting = proc.rss_kib();
  WARN("RSS before " << rss_before << " KiB, with six 50 MiB batches waiting " << rss_waiting
                      << " KiB");
  // Six raw bodies would be 300 MiB. What may remain is what malloc keeps of the decoder's
  // scratch memory for reuse: at most about 32 MiB in each of the 2 worker threads' arenas.
  CHECK(rss_waiting < rss_before + 96 * mib);
  healthy(proc);
}

TEST_CASE("hardening: one large body does not stall small requests", "[http][hardening]") {
  serve_process proc{serve_args({})};
  // ~40 MB of tasks, the last one invalid: decoded to the end, then refused (no pipeline work).
  std::string body = R"({"tasks":[)";
  const std::string summary(80, 's');
  for (int id = 1; body.size() < 40'000'000; ++id)
    body += R"({"id":)" + std::to_string(id) + R"(,"type":"Epic","summary":")" + summary + "\"},";
  body += R"({"id":0}]})";
  std::atomic<bool> done{false};
  http_response big;
  std::thread poster{[&] {
    big = http_call(proc.port(), http_request::post_json("/v1/batches", body), 60s);
    done = true;
  }};
  double worst_health = 0;
  int polls = 0;
  while (!done) {
    auto r = http_call(proc.port(), http_request{"GET", "/healthz", {}, {}}, 30s);
    CHECK(r.status == 200);
    worst_health = std::max(worst_health, r.elapsed_ms);
    ++polls;
    std::this_thread::sleep_for(10ms);
  }
  poster.join();
  CHECK(big.status == 400);
  CHECK(big.body.find("invalid_batch") != std::string::npos);
  WARN("40 MB body answered in " << big.elapsed_ms << " ms; slowest of " << polls
                                 << " /healthz meanwhile: " << worst_health << " ms");
  REQUIRE(big.elapsed_ms > 200);  // the body took long enough to mean something
  CHECK(worst_health * 4 < big.elapsed_ms);
}

TEST_CASE("hardening: reading large reports does not stall a small batch", "[http][hardening]") {
  serve_process proc{serve_args({})};
  // 100,000 tasks that fail not_found: a report of about 10 MB.
  std::string body = R"({"tasks":[)";
  for (int id = 101; id <= 100'100; ++id)
    body += (id > 101 ? "," : "") + std::string{R"({"id":)"} + std::to_string(id)
            + R"(,"type":"Epic"})";
  body += "]}";
  auto r = http_call(proc.port(), http_request::post_json("/v1/batches", body), 60s);
  REQUIRE(r.status == 200);
  auto id = json::parse(r.body)["batch_id"].get<std::string>();
  auto small_alone = http_call(proc.port(),
                               http_request::post_json("/v1/batches", R"({"tasks":[{"id":1}]})"));
  auto rss_before = proc.rss_kib();
  auto peak_before = proc.peak_rss_kib();
  auto started = std::chrono::steady_clock::now();
  std::thread readers{[&] {
    auto all = http_call_many(proc.port(), http_request{"GET", "/v1/batches/" + id, {}, {}}, 40,
                              60s);
    for (auto& x : all)
      CHECK(x.status == 200);
  }};
  std::this_thread::sleep_for(20ms);
  auto small = http_call(proc.port(),
                         http_request::post_json("/v1/batches", R"({"tasks":[{"id":2}]})"), 60s);
  readers.join();
  auto reads_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now()
                                                            - started)
                    .count();
  CHECK(small.status == 200);
  WARN("1-task batch alone " << small_alone.elapsed_ms << " ms, beside 40 reads of a 10 MB report "
                             << small.elapsed_ms << " ms (the reads took " << reads_ms << " ms)");
  REQUIRE(reads_ms > 200);
  // Not queued behind the reads: done well before they are. (4x here failed at 3.6-4.1x on a
  // quiet 2-core machine once admission and finish went through the journal; the ratio is a
  // benchmark figure, this only guards against the small batch waiting for all the reads.)
  CHECK(small.elapsed_ms * 2 < reads_ms);
  // The report is rendered once and every reader shares it: 40 readers do not hold 40 copies
  // (they did: 73 -> 797 MiB before issue 9's shared reports).
  auto peak_after = proc.peak_rss_kib();
  WARN("server RSS " << rss_before / 1024 << " MiB before the reads, peak " << peak_before / 1024
                     << " -> " << peak_after / 1024 << " MiB, after " << proc.rss_kib() / 1024
                     << " MiB");
  CHECK(peak_after < std::max(peak_before, rss_before) + 120 * 1024);
}

TEST_CASE("hardening: --max-connections refuses new connections cleanly, counted in /metrics",
          "[http][hardening]") {
  serve_process proc{serve_args({"--max-connections=20"})};
  std::vector<std::unique_ptr<raw_connection>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(std::make_unique<raw_connection>(proc.port()));
    REQUIRE(idle.back()->connected());
  }
  std::this_thread::sleep_for(200ms);
  auto refused = raw_exchange(proc.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  one_closing_response(refused, 503);
  CHECK(refused.find("\"overloaded\"") != std::string::npos);
  CHECK(refused.find("--max-connections=20") != std::string::npos);
  // The open ones still work.
  REQUIRE(idle.front()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(raw_status(idle.front()->read(3s, true)) == 200);
  idle.resize(10);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  double refused_total = -1;
  while (std::chrono::steady_clock::now() < deadline
         && (refused_total = metric(proc.port(), "taskpipe_http_connections_refused_total")) < 0)
    std::this_thread::sleep_for(50ms);
  CHECK(refused_total == 1);
  idle.clear();
  healthy(proc);
  CHECK(metric_reaches(proc.port(), "taskpipe_http_connections_open", 1));
}
