// The HTTP front: Boost.Beast on its own Asio thread(s), one C++20 coroutine per connection.
// A request that needs the node asks the backend and suspends; the answer (on a CAF thread) is
// posted back to the connection's strand. No thread per request, no blocking on an actor.
#pragma once

#include "actors/metrics.hpp"
#include "main/http/backend.hpp"
#include "main/http/metrics_text.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace taskpipe::http {

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  ///< 0 picks a free port
  std::uint64_t max_batch_tasks = 1'000'000;
  std::uint64_t max_body_bytes = 256ULL << 20;
  std::uint64_t max_in_flight = 2'000'000;
  std::string api_token;  ///< empty: no token required
  std::size_t threads = 1;
  std::chrono::milliseconds idle_timeout{60'000};   ///< keep-alive and header read
  std::chrono::milliseconds body_timeout{120'000};  ///< reading one request body
  std::chrono::seconds retry_after_overloaded{1};
  std::chrono::seconds retry_after_shutting_down{5};
};

class server {
public:
  /// `be` must outlive the server; `metrics` may be null (then /metrics shows only HTTP metrics).
  server(backend& be, std::shared_ptr<const pipeline_metrics> metrics, server_options opts);

  /// Stops (without grace) if still running.
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Resolves and binds the address, listens, and starts the Asio threads; once it returns,
  /// connections are accepted. Throws std::system_error (or std::runtime_error) naming the
  /// address on failure.
  void start();

  /// The address as bound: host as given (numeric form) and the real port.
  std::string address() const;
  std::uint16_t port() const;

  /// From now on /healthz answers 503 draining and new batches 503 shutting_down; everything
  /// else keeps working (waiting clients get their reports).
  void begin_drain();
  bool draining() const;

  /// Stops accepting, waits up to `grace` until no request is in progress (answers being
  /// written), then stops the Asio threads and closes every connection.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{0});

  const http_counters& counters() const;

  struct state;

private:
  std::shared_ptr<state> state_;
};

} // namespace taskpipe::http
