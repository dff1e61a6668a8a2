// A TCP proxy in front of a real `taskpipe serve` that breaks chosen requests, for the client's
// retry tests: it reads each request whole, records it, then forwards it, or drops the connection
// before forwarding (the node never sees the request), or forwards it and drops the connection
// before the answer (the node did the work; the client does not know).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace taskpipe::test {

class flaky_proxy {
public:
  enum class action { forward, drop_before, drop_after };

  struct seen_request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  ///< lowercase names
    action taken = action::forward;
  };

  /// Forwards to 127.0.0.1:`upstream`; request number i (from 0) gets plan[i], later ones are
  /// forwarded.
  flaky_proxy(std::uint16_t upstream, std::vector<action> plan);
  ~flaky_proxy();
  flaky_proxy(const flaky_proxy&) = delete;
  flaky_proxy& operator=(const flaky_proxy&) = delete;

  std::uint16_t port() const {
    return port_;
  }
  std::vector<seen_request> requests() const;

private:
  void run();
  void serve_one(int client);

  std::uint16_t upstream_;
  std::vector<action> plan_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<seen_request> seen_;
  std::thread thread_;
};

} // namespace taskpipe::test
