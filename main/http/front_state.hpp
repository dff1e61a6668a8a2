// What the listener, the sessions and the handlers of the HTTP front share. Internal to
// main/http (the public face is server.hpp).
#pragma once

// <utility> first: Boost 1.74's awaitable headers use std::exchange without including it (g++ 12).
#include <utility>

#include "actors/metrics.hpp"
#include "main/http/backend.hpp"
#include "main/http/metrics_text.hpp"
#include "main/http/server_options.hpp"

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
    : be(b), metrics(std::move(m)), opts(std::move(o)), ioc(static_cast<int>(opts.threads)) {
  }

  // Everything a connection touches is declared before `ioc`: destroying the io_context
  // destroys the suspended connection coroutines, whose destructors still use these.
  backend& be;
  std::shared_ptr<const pipeline_metrics> metrics;
  server_options opts;
  http_counters counters;
  std::atomic<bool> draining{false};
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::string address;
  std::uint16_t port = 0;

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
};

/// Counts something open (a connection, a request) for as long as it lives.
struct counter_guard {
  explicit counter_guard(std::atomic<std::uint64_t>& c) : counter(c) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  ~counter_guard() {
    counter.fetch_sub(1, std::memory_order_relaxed);
  }
  counter_guard(const counter_guard&) = delete;
  counter_guard& operator=(const counter_guard&) = delete;
  std::atomic<std::uint64_t>& counter;
};

} // namespace taskpipe::http
