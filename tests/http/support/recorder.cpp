#include "support/recorder.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <unistd.h>

namespace taskpipe::test {

void record_exchange(const http_request& req, const http_response& res) {
  static const char* dir = std::getenv("TASKPIPE_HTTP_RECORD_DIR");
  if (dir == nullptr || *dir == '\0' || res.status == 0)
    return;
  nlohmann::json line{{"method", req.method}, {"target", req.target}, {"status", res.status},
                      {"headers", res.headers}, {"body", res.body}};
  static std::mutex mutex;
  std::lock_guard guard{mutex};
  std::ofstream out{std::string{dir} + "/" + std::to_string(::getpid()) + ".jsonl", std::ios::app};
  // Bodies that are not UTF-8 are kept recognisable (U+FFFD) rather than failing the test.
  out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

} // namespace taskpipe::test
