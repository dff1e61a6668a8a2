#include "support/http_client.hpp"

#include "support/recorder.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

namespace taskpipe::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

http_request http_request::post_json(std::string target, std::string body) {
  http_request r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

http_request& http_request::header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::string http_response::header(const std::string& name) const {
  auto i = headers.find(name);
  return i == headers.end() ? std::string{} : i->second;
}

namespace {

bhttp::request<bhttp::string_body> to_beast(const http_request& req) {
  bhttp::request<bhttp::string_body> out;
  out.method_string(req.method);
  out.target(req.target);
  out.version(11);
  out.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [name, value] : req.headers)
    out.set(name, value);
  out.body() = req.body;
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT")
    out.prepare_payload();
  return out;
}

void from_beast(const bhttp::response<bhttp::string_body>& res, http_response& out) {
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name{field.name_string()};
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string{field.value()};
  }
  out.body = res.body();
}

/// One connection running a list of requests in order (callbacks, no coroutines).
struct exchange : std::enable_shared_from_this<exchange> {
  exchange(asio::io_context& ioc, std::uint16_t port, std::vector<http_request> reqs)
    : socket(ioc), endpoint(asio::ip::make_address("127.0.0.1"), port), requests(std::move(reqs)),
      results(requests.size()) {
  }

  void start() {
    started = clock_type::now();
    auto self = shared_from_this();
    socket.async_connect(endpoint, [self](beast::error_code ec) {
      if (ec)
        return self->fail("connect: " + ec.message());
      self->send_next();
    });
  }

  void send_next() {
    if (next == requests.size()) {
      beast::error_code ec;
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
      return;
    }
    request = std::make_shared<bhttp::request<bhttp::string_body>>(to_beast(requests[next]));
    auto self = shared_from_this();
    bhttp::async_write(socket, *request, [self](beast::error_code ec, std::size_t) {
      if (ec)
        return self->fail("write: " + ec.message());
      self->read();
    });
  }

  void read() {
    parser = std::make_shared<bhttp::response_parser<bhttp::string_body>>();
    parser->body_limit(1ULL << 30);
    if (requests[next].method == "HEAD")
      parser->skip(true);
    auto self = shared_from_this();
    bhttp::async_read(socket, buffer, *parser, [self](beast::error_code ec, std::size_t) {
      if (ec)
        return self->fail("read: " + ec.message());
      auto& out = self->results[self->next];
      from_beast(self->parser->get(), out);
      out.elapsed_ms =
        std::chrono::duration<double, std::milli>(clock_type::now() - self->started).count();
      bool keep = self->parser->get().keep_alive();
      ++self->next;
      self->started = clock_type::now();
      if (!keep && self->next < self->requests.size())
        return self->fail("the server closed the connection");
      self->send_next();
    });
  }

  void fail(std::string what) {
    for (auto i = next; i < results.size(); ++i)
      results[i].error = what;
    next = requests.size();
    beast::error_code ec;
    socket.close(ec);
  }

  tcp::socket socket;
  tcp::endpoint endpoint;
  std::vector<http_request> requests;
  std::vector<http_response> results;
  std::size_t next = 0;
  beast::flat_buffer buffer;
  std::shared_ptr<bhttp::request<bhttp::string_body>> request;
  std::shared_ptr<bhttp::response_parser<bhttp::string_body>> parser;
  clock_type::time_point started;
};

void mark_timeouts(std::vector<std::shared_ptr<exchange>>& all) {
  for (auto& x : all)
    for (auto i = x->next; i < x->results.size(); ++i)
      if (x->results[i].status == 0 && x->results[i].error.empty())
        x->results[i].error = "timeout";
}

int connect_raw(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Reads until close, timeout, or `done(text)` says so.
template <class Done>
std::string read_until(int fd, milliseconds timeout, Done done) {
  std::string out;
  auto deadline = clock_type::now() + timeout;
  char buf[16384];
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0)
      break;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
    if (done(out))
      break;
  }
  return out;
}

} // namespace

http_response http_call(std::uint16_t port, const http_request& req, milliseconds timeout) {
  auto results = http_call_sequence(port, {req}, timeout);
  return results.front();
}

std::vector<http_response> http_call_sequence(std::uint16_t port,
                                              const std::vector<http_request>& reqs,
                                              milliseconds timeout) {
  asio::io_context ioc;
  std::vector<std::shared_ptr<exchange>> all{std::make_shared<exchange>(ioc, port, reqs)};
  all.front()->start();
  ioc.run_for(timeout);
  mark_timeouts(all);
  auto results = all.front()->results;
  ioc.stop();
  for (std::size_t i = 0; i < results.size() && i < reqs.size(); ++i)
    record_exchange(reqs[i], results[i]);
  return results;
}

std::vector<http_response> http_call_many(std::uint16_t port, const http_request& req,
                                          std::size_t count, milliseconds timeout) {
  asio::io_context ioc;
  std::vector<std::shared_ptr<exchange>> all;
  all.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    all.push_back(std::make_shared<exchange>(ioc, port, std::vector<http_request>{req}));
    all.back()->start();
  }
  ioc.run_for(timeout);
  mark_timeouts(all);
  std::vector<http_response> results;
  results.reserve(count);
  for (auto& x : all) {
    results.push_back(x->results.front());
    record_exchange(req, results.back());
  }
  return results;
}

std::string raw_exchange(std::uint16_t port, std::string_view bytes, milliseconds timeout,
                         bool shutdown_after_send) {
  int fd = connect_raw(port);
  if (fd < 0)
    return {};
  send_all(fd, bytes);
  if (shutdown_after_send)
    ::shutdown(fd, SHUT_WR);
  auto out = read_until(fd, timeout, [](const std::string&) { return false; });
  ::close(fd);
  return out;
}

std::string raw_until_response(std::uint16_t port, std::string_view bytes, milliseconds timeout) {
  int fd = connect_raw(port);
  if (fd < 0)
    return {};
  send_all(fd, bytes);
  auto out = read_until(fd, timeout, [](const std::string& text) {
    auto head_end = text.find("\r\n\r\n");
    if (head_end == std::string::npos)
      return false;
    // Skip interim 100 Continue answers.
    if (text.rfind("HTTP/1.1 100", 0) == 0)
      return text.find("\r\n\r\n", head_end + 4) != std::string::npos;
    return true;
  });
  ::close(fd);
  return out;
}

void send_and_drop(std::uint16_t port, std::string_view bytes, milliseconds pause, bool reset) {
  int fd = connect_raw(port);
  if (fd < 0)
    return;
  send_all(fd, bytes);
  std::this_thread::sleep_for(pause);
  if (reset) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  ::close(fd);
}

int raw_status(std::string_view response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12)
    return 0;
  return std::atoi(std::string{response.substr(9, 3)}.c_str());
}

int raw_response_count(std::string_view text) {
  int count = 0;
  for (std::size_t pos = 0; (pos = text.find("HTTP/1.1 ", pos)) != std::string_view::npos; ++pos)
    if (pos == 0 || (pos >= 2 && text.substr(pos - 2, 2) == "\r\n"))
      ++count;
  return count;
}

stream_result raw_stream(std::uint16_t port, std::string_view head, char filler,
                         std::uint64_t filler_bytes, milliseconds linger) {
  stream_result out;
  int fd = connect_raw(port);
  if (fd < 0)
    return out;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  const std::string block(1 << 20, filler);
  std::uint64_t left = filler_bytes;
  std::string_view pending = head;
  std::optional<clock_type::time_point> stop_at;  // set once everything is sent
  char buf[16384];
  while (!out.closed && (!stop_at || clock_type::now() < *stop_at)) {
    if (pending.empty() && left > 0) {
      auto n = std::min<std::uint64_t>(left, block.size());
      pending = std::string_view{block}.substr(0, static_cast<std::size_t>(n));
      left -= n;
    }
    if (pending.empty() && !stop_at)
      stop_at = clock_type::now() + linger;
    pollfd p{fd, static_cast<short>(POLLIN | (pending.empty() ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, 50) < 0)
      break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0)
        out.received.append(buf, static_cast<std::size_t>(n));
      else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        out.closed = true;
    }
    if (!out.closed && !pending.empty() && (p.revents & POLLOUT)) {
      auto n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n > 0) {
        pending.remove_prefix(static_cast<std::size_t>(n));
        out.sent += static_cast<std::uint64_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        // The server stopped reading and closed: collect what it answered.
        pending = {};
        left = 0;
        auto more = read_until(fd, milliseconds{500}, [](const std::string&) { return false; });
        out.received += more;
        out.closed = true;
      }
    }
  }
  ::close(fd);
  return out;
}

raw_connection::raw_connection(std::uint16_t port) : fd_(connect_raw(port)) {
}

raw_connection::~raw_connection() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool raw_connection::send(std::string_view bytes) {
  return fd_ >= 0 && send_all(fd_, bytes);
}

std::string raw_connection::read(milliseconds timeout, bool until_head) {
  if (fd_ < 0)
    return {};
  return read_until(fd_, timeout, [until_head](const std::string& text) {
    return until_head && text.find("\r\n\r\n") != std::string::npos;
  });
}

} // namespace taskpipe::test
