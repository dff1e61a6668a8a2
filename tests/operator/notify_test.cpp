// systemd notifications: `serve` sends READY=1 once it listens and its remote stages have a stage
// host, STOPPING=1 when it drains; `node` READY=1 once published. Checked with a datagram socket
// of the test's own as $NOTIFY_SOCKET (path and abstract names).
#include "support/process.hpp"
#include "support/serve_process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace taskpipe::test;
using namespace std::chrono_literals;

namespace {

/// The receiving end of sd_notify: an AF_UNIX datagram socket.
class notify_socket {
public:
  /// `name` starting with '@' is an abstract socket, otherwise a path.
  explicit notify_socket(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::copy(name_.begin(), name_.end(), addr.sun_path);
    if (name_.front() == '@')
      addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0)
      throw std::runtime_error("cannot bind the notify socket " + name_);
  }
  ~notify_socket() {
    ::close(fd_);
    if (name_.front() == '/')
      ::unlink(name_.c_str());
  }
  std::string env() const {
    return "NOTIFY_SOCKET=" + name_;
  }
  /// The next message holding `needle`, skipping others; "" when none comes in time. Every
  /// message received is kept in seen().
  std::string wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
      if (left <= 0)
        return {};
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0)
        return {};
      char buf[4096];
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        return {};
      seen_.emplace_back(buf, static_cast<std::size_t>(n));
      if (seen_.back().find(needle) != std::string::npos)
        return seen_.back();
    }
  }
  const std::vector<std::string>& seen() const {
    return seen_;
  }

private:
  std::string name_;
  int fd_ = -1;
  std::vector<std::string> seen_;
};

std::vector<std::string> serve_args(std::vector<std::string> extra) {
  std::vector<std::string> args{taskpipe_binary(), "serve", "--listen=127.0.0.1:0",
                                "--store=memory"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

} // namespace

TEST_CASE("notify: serve says READY=1 when listening and STOPPING=1 when draining",
          "[operator][notify]") {
  temp_dir dir;
  notify_socket sock{dir.path() + "/notify.sock"};
  child serve{serve_args({}), {sock.env()}};
  auto banner = serve.wait_line("listening on ");
  REQUIRE(!banner.empty());
  auto ready = sock.wait_for("READY=1", 10s);
  INFO(serve.stderr_text());
  REQUIRE(!ready.empty());
  CHECK(ready.find("STATUS=serving on 127.0.0.1:" + std::to_string(port_of(banner)))
        != std::string::npos);
  serve.signal(SIGTERM);
  CHECK(!sock.wait_for("STOPPING=1", 10s).empty());
  CHECK(serve.wait_exit() == 0);
  // READY=1 exactly once, before STOPPING=1.
  int readies = 0;
  for (const auto& m : sock.seen())
    readies += m.find("READY=1") != std::string::npos;
  CHECK(readies == 1);
}

TEST_CASE("notify: an abstract NOTIFY_SOCKET works too and a missing one does no harm", "[operator][notify]") {
  notify_socket sock{"@taskpipe-notify-test-" + std::to_string(::getpid())};
  child serve{serve_args({}), {sock.env()}};
  REQUIRE(!serve.wait_line("listening on ").empty());
  CHECK(!sock.wait_for("READY=1", 10s).empty());
  serve.signal(SIGTERM);
  CHECK(serve.wait_exit() == 0);
  // A socket nobody listens on: the node runs all the same.
  child lonely{serve_args({}), {"NOTIFY_SOCKET=/nonexistent/notify.sock"}};
  REQUIRE(!lonely.wait_line("listening on ").empty());
  lonely.signal(SIGTERM);
  CHECK(lonely.wait_exit() == 0);
}

TEST_CASE("notify: serve is READY only once its remote stage has a host", "[operator][notify]") {
  temp_dir dir;
  // A free port for the stage host: bind one, note it, let it go.
  int port = 0;
  {
    child probe{{taskpipe_binary(), "node", "--stages=validate", "--listen=127.0.0.1:0",
                 "--store=memory"}};
    port = port_of(probe.wait_line("node listening on "));
    REQUIRE(port > 0);
  }
  notify_socket sock{dir.path() + "/notify.sock"};
  auto where = "127.0.0.1:" + std::to_string(port);
  child serve{serve_args({"--remote=validate@" + where}), {sock.env()}};
  REQUIRE(!serve.wait_line("listening on ").empty());
  // It listens, but the stage host is not there: no READY, a STATUS saying why.
  auto waiting = sock.wait_for("waiting for stage hosts of validate", 10s);
  CHECK(!waiting.empty());
  CHECK(sock.wait_for("READY=1", 1500ms).empty());
  // The host comes up; the front's reconnection (every second) finds it.
  notify_socket node_sock{dir.path() + "/node.sock"};
  child node{{taskpipe_binary(), "node", "--stages=validate", "--listen=" + where, "--store=memory"},
             {node_sock.env()}};
  REQUIRE(!node.wait_line("node listening on ").empty());
  CHECK(!node_sock.wait_for("READY=1", 10s).empty());
  auto ready = sock.wait_for("READY=1", 10s);
  INFO(serve.stderr_text());
  CHECK(!ready.empty());
  CHECK(serve.stderr_text().find("stage host " + where + " connected (validate)")
        != std::string::npos);
  serve.signal(SIGTERM);
  CHECK(serve.wait_exit() == 0);
  node.signal(SIGTERM);
  CHECK(!node_sock.wait_for("STOPPING=1", 10s).empty());
  CHECK(node.wait_exit() == 0);
}
