// The HTTP front: Boost.Beast on its own Asio thread(s), one C++20 coroutine per connection.
// A request that needs the node asks the backend and suspends; the answer (on a CAF thread) is
// posted back to the connection's strand. No thread per request, no blocking on an actor.
//
// Layers (main/http/): router (pure: head -> plan or error), handlers (plan + body -> response,
// through the backend), responses, request_text (helpers), session (one connection), and this
// server: the listener and its threads.
#pragma once

#include "actors/metrics.hpp"
#include "main/http/backend.hpp"
#include "main/http/metrics_text.hpp"
#include "main/http/server_options.hpp"
#include "main/http/stats_feed.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace taskpipe::http {

struct front_state;

class server {
public:
  /// `be` must outlive the server; `metrics` may be null (then /metrics shows only HTTP metrics).
  server(backend& be, std::shared_ptr<const pipeline_metrics> metrics, server_options opts);

  /// Stops (without grace) if still running.
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Where GET /v1/stats and GET /v1/events find the dashboard's snapshots; call before start.
  void set_stats_feed(std::shared_ptr<stats_feed> feed);

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

private:
  std::shared_ptr<front_state> state_;
};

} // namespace taskpipe::http
