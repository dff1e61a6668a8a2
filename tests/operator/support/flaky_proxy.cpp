#include "support/flaky_proxy.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace taskpipe::test {

namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool send_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

/// Reads until `fd` is readable no more within 10 s or closes.
bool read_some(int fd, std::string& into) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10'000) <= 0)
    return false;
  char buf[65536];
  auto n = ::recv(fd, buf, sizeof(buf), 0);
  if (n <= 0)
    return false;
  into.append(buf, static_cast<std::size_t>(n));
  return true;
}

} // namespace

flaky_proxy::flaky_proxy(std::uint16_t upstream, std::vector<action> plan)
  : upstream_(upstream), plan_(std::move(plan)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = loopback(0);
  socklen_t len = sizeof(addr);
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(listener_, 64) != 0
      || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("flaky_proxy: cannot listen");
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread{[this] { run(); }};
}

flaky_proxy::~flaky_proxy() {
  stop_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  thread_.join();
  ::close(listener_);
}

std::vector<flaky_proxy::seen_request> flaky_proxy::requests() const {
  std::lock_guard guard{mutex_};
  return seen_;
}

void flaky_proxy::run() {
  while (!stop_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0)
      continue;
    serve_one(client);
    ::close(client);
  }
}

void flaky_proxy::serve_one(int client) {
  // The request: head, then Content-Length bytes of body.
  std::string bytes;
  std::size_t head_end;
  while ((head_end = bytes.find("\r\n\r\n")) == std::string::npos)
    if (!read_some(client, bytes))
      return;
  seen_request req;
  auto head = bytes.substr(0, head_end);
  auto line_end = head.find("\r\n");
  auto request_line = head.substr(0, line_end);
  auto sp1 = request_line.find(' ');
  auto sp2 = request_line.find(' ', sp1 + 1);
  req.method = request_line.substr(0, sp1);
  req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (auto pos = line_end + 2; pos < head.size();) {
    auto next = head.find("\r\n", pos);
    auto line = head.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto name = line.substr(0, colon);
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      req.headers[name] = value;
    }
    if (next == std::string::npos)
      break;
    pos = next + 2;
  }
  std::size_t length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
  while (bytes.size() < head_end + 4 + length)
    if (!read_some(client, bytes))
      return;
  {
    std::lock_guard guard{mutex_};
    req.taken = seen_.size() < plan_.size() ? plan_[seen_.size()] : action::forward;
    seen_.push_back(req);
  }
  if (req.taken == action::drop_before)
    return;  // closed by run(): the node never saw it
  int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = loopback(upstream_);
  if (up < 0 || ::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (up >= 0)
      ::close(up);
    return;
  }
  std::string answer;
  if (send_all(up, bytes))
    while (read_some(up, answer)) {
      // The client asks for Connection: close, so the node closes after its answer.
    }
  ::close(up);
  if (req.taken == action::forward)
    send_all(client, answer);
}

} // namespace taskpipe::test
