// What the listener, the sessions and the handlers of the HTTP front share. Internal to
// main/http (the public face is server.hpp).
#pragma once

// <utility> first: Boost 1.74's awaitable headers use std::exchange without including it (g++ 12).
#include <utility>

#include "actors/metrics.hpp"
#include "main/http/backend.hpp"
#include "main/http/metrics_text.hpp"
#include "main/http/request_body.hpp"
#include "main/http/server_options.hpp"
#include "main/http/stats_feed.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace taskpipe::http {

struct front_state : std::enable_shared_from_this<front_state> {
  front_state(backend& b, std::shared_ptr<const pipeline_metrics> m, server_options o)
    : be(b),
      metrics(std::move(m)),
      opts(std::move(o)),
      bodies(counters.body_bytes_in_flight, opts.max_body_bytes_in_flight),
      ioc(static_cast<int>(opts.threads)) {
  }

  // Everything a connection touches is declared before `ioc`: destroying the io_context
  // destroys the suspended connection coroutines, whose destructors still use these.
  backend& be;
  std::shared_ptr<const pipeline_metrics> metrics;
  server_options opts;
  http_counters counters;
  body_budget bodies;  ///< --max-body-bytes-in-flight
  std::shared_ptr<stats_feed> stats;  ///< the dashboard's snapshots; null: no dashboard data
  std::atomic<bool> draining{false};
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::string address;
  std::uint16_t port = 0;

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  /// The worker pool: decodes large bodies and renders large reports, at a lower CPU priority,
  /// so that no request's bulk work holds up the I/O threads or another's small request.
  /// Declared after `ioc`: destroyed first (a job left over holds a connection's coroutine,
  /// whose destructor still uses the members above).
  boost::asio::io_context workers{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
    workers_work;
  std::vector<std::thread> worker_threads;
};

/// Counts something open (a connection, a request) for as long as it lives.
struct counter_guard {
  explicit counter_guard(std::atomic<std::uint64_t>& c) : counter(c) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  /// Takes over a unit the caller already counted.
  struct adopt_t {};
  counter_guard(std::atomic<std::uint64_t>& c, adopt_t) : counter(c) {
  }
  ~counter_guard() {
    counter.fetch_sub(1, std::memory_order_relaxed);
  }
  counter_guard(const counter_guard&) = delete;
  counter_guard& operator=(const counter_guard&) = delete;
  std::atomic<std::uint64_t>& counter;
};

} // namespace taskpipe::http
