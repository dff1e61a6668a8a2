// What `taskpipe serve` configures in the HTTP front: address, limits, token, threads, timeouts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace taskpipe::http {

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  ///< 0 picks a free port
  std::uint64_t max_batch_tasks = 1'000'000;
  std::uint64_t max_body_bytes = 256ULL << 20;
  std::uint64_t max_in_flight = 2'000'000;
  std::string api_token;  ///< empty: no token required
  std::uint64_t max_body_bytes_in_flight = 1ULL << 30;  ///< bodies being read or decoded, at once
  std::uint64_t max_connections = 10'000;  ///< open connections; more are refused (503)
  std::size_t threads = 1;         ///< Asio threads: sockets, parsing, routing, small requests
  std::size_t worker_threads = 2;  ///< the pool decoding large bodies and rendering large reports
  std::chrono::milliseconds idle_timeout{60'000};   ///< keep-alive and header read
  std::chrono::milliseconds body_timeout{120'000};  ///< reading one request body
  std::chrono::seconds retry_after_overloaded{1};
  std::chrono::seconds retry_after_shutting_down{5};
};

} // namespace taskpipe::http
