// libFuzzer target for the whole request path of the HTTP front: each input is the raw bytes one
// client sends on one connection (scripts/fuzz.sh builds it with clang and
// -fsanitize=fuzzer,address,undefined). The real server (Beast parser, limits, router, handlers,
// decoder, writers, worker pool) runs in this process on a loopback port, with the node's backend
// faked; the input is sent, the client half-closes, and everything the server answers is read
// until it closes. Besides "no crash, no leak, no allocation over -malloc_limit_mb", it checks:
// the server always closes (no hang), and what it sends is a sequence of whole HTTP/1.1
// responses with statuses of the contract.
#include "main/http/server.hpp"
#include "messages/outcome.hpp"
#include "messages/report.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace taskpipe;

void require(bool ok) {
  if (!ok)
    __builtin_trap();
}

/// Answers at once, from the calling thread: known tasks 1..100, refusals and failures on some
/// inputs so that every mapping to a status runs, and now and then a report large enough to be
/// rendered on the worker pool.
class fake_backend final : public http::backend {
public:
  void submit(batch_request req, bool wait, http::reply_fn done) override {
    http::backend_reply r;
    if (req.tasks.size() > 50) {
      r.what = http::backend_reply::kind::refused;
      r.why = req.tasks.size() > 80 ? refusal::overloaded : refusal::shutting_down;
      r.detail = "refused by the fake node";
      return done(std::move(r));
    }
    r.what = http::backend_reply::kind::ok;
    r.report = report_of(next_.fetch_add(1) + 1, req.tasks.size(), wait);
    std::uint32_t index = 0;
    for (auto& t : req.tasks) {
      if (t.id > 100)
        r.report.failures.push_back(failure(index, t.id));
      ++index;
    }
    r.report.failed = r.report.failures.size();
    r.report.succeeded = r.report.total - r.report.failed;
    done(std::move(r));
  }

  void status(std::string id, http::reply_fn done) override {
    answer_batch(id, false, std::move(done));
  }

  void cancel(std::string id, http::reply_fn done) override {
    answer_batch(id, true, std::move(done));
  }

  void get_task(std::int64_t id, http::reply_fn done) override {
    http::backend_reply r;
    r.what = http::backend_reply::kind::ok;
    if (id == 13) {
      r.what = http::backend_reply::kind::failed;
      r.detail = "the node did not answer in time";
    } else if (id <= 100) {
      r.task = {id, "Story", "Task \"" + std::to_string(id) + "\"\n", 1, "2026-01-01T00:00:00.000Z"};
    }
    done(std::move(r));
  }

private:
  static task_failure failure(std::uint32_t index, std::int64_t id) {
    task_failure f;
    f.index = index;
    f.id = id;
    f.where = stage::validate;
    f.code = failure_code::not_found;
    f.reason = "task " + std::to_string(id) + " does not exist";
    return f;
  }

  static batch_report report_of(std::uint64_t n, std::size_t total, bool done) {
    batch_report r;
    r.batch_id = batch_id_text(n);
    r.state = done ? batch_state::done : batch_state::running;
    r.total = total;
    r.pending = done ? 0 : total;
    r.elapsed_ms = 1.5;
    return r;
  }

  void answer_batch(const std::string& id, bool cancel, http::reply_fn done) {
    std::uint64_t n = 0;
    http::backend_reply r;
    if (!parse_batch_id(id, n) || n % 3 == 0) {
      r.what = http::backend_reply::kind::refused;
      r.why = refusal::unknown_batch;
      r.detail = "no batch " + id;
      return done(std::move(r));
    }
    r.what = http::backend_reply::kind::ok;
    // Batch ids ending in 7: 1,500 failures (rendered on the worker pool).
    std::size_t failures = n % 16 == 7 ? 1500 : n % 4;
    r.report = report_of(n, failures + 1, true);
    if (cancel)
      r.report.state = batch_state::cancelled;
    for (std::size_t i = 0; i < failures; ++i)
      r.report.failures.push_back(failure(static_cast<std::uint32_t>(i), 1000 + i));
    r.report.failed = failures;
    r.report.succeeded = 1;
    done(std::move(r));
  }

  std::atomic<std::uint64_t> next_{0};
};

struct front {
  fake_backend backend;
  std::unique_ptr<http::server> server;

  front() {
    http::server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.api_token = "fuzz-token";
    o.max_body_bytes = 1 << 20;
    o.max_body_bytes_in_flight = 4 << 20;
    o.max_batch_tasks = 100;
    o.max_in_flight = 90;
    o.idle_timeout = std::chrono::milliseconds{2'000};
    o.body_timeout = std::chrono::milliseconds{2'000};
    o.worker_threads = 1;
    server = std::make_unique<http::server>(backend, std::make_shared<pipeline_metrics>(), o);
    server->start();
  }
};

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  require(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  require(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  timeval send_timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  return fd;
}

/// Sends what it can (the server may stop reading and close), half-closes, reads until the
/// server closes; a server that neither answers nor closes within 15 s is a hang. libFuzzer's
/// -timeout watchdog is a SIGALRM every few seconds: an interrupted call is made again.
std::string exchange(std::uint16_t port, std::string_view input) {
  int fd = connect_to(port);
  while (!input.empty()) {
    auto n = ::send(fd, input.data(), input.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    input.remove_prefix(static_cast<std::size_t>(n));
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[65536];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{15};
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready < 0 && errno == EINTR)
      continue;
    require(ready > 0);
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

bool contract_status(unsigned s) {
  switch (s) {
    case 100: case 200: case 202: case 400: case 401: case 404: case 405: case 413: case 415:
    case 422:
    case 500: case 503:
      return true;
    default:
      return false;
  }
}

/// What came back is whole responses, one after the other. (Answers to HEAD have a
/// Content-Length but no body, so inputs with HEAD are only checked for their first status.)
void check_responses(std::string_view out, bool has_head) {
  namespace bhttp = boost::beast::http;
  while (!out.empty()) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    parser.eager(true);
    boost::beast::error_code ec;
    auto used = parser.put(boost::asio::buffer(out.data(), out.size()), ec);
    require(!ec && parser.is_header_done());
    require(contract_status(parser.get().result_int()));
    if (has_head)
      return;
    require(parser.is_done());
    if (parser.get().result_int() != 100)
      require(parser.get().has_content_length());
    out.remove_prefix(used);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static front* the_front = new front;  // lives for the whole run (reachable: no leak)
  std::string_view input{reinterpret_cast<const char*>(data), size};
  auto out = exchange(the_front->server->port(), input);
  check_responses(out, input.find("HEAD") != std::string_view::npos);
  return 0;
}
