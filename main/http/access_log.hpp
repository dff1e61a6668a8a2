// The access log: one line per HTTP request at info level (method, path, status, bytes, duration,
// batch id, peer), written where the session finishes a response. Never one line per task.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace taskpipe::http {

struct access_entry {
  std::string method = "-";  ///< "-" when the request line could not be read
  std::string path = "-";    ///< without the query
  std::string peer;          ///< the client's address and port
  std::string batch_id;      ///< the batch the request names, if any
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// Logs `e` answered with `status` and `bytes` of body; the batch id is taken from the body
/// when the request named none (a submitted batch's report or 202 answer).
void log_access(const access_entry& e, unsigned status, std::string_view body, std::size_t bytes);

} // namespace taskpipe::http
