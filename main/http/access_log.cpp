#include "main/http/access_log.hpp"

#include "main/log.hpp"

#include <fmt/format.h>

namespace taskpipe::http {

namespace {

/// Reports, statuses and 202 answers all start with {"batch_id":"b-<16 hex>".
std::string_view batch_id_in(std::string_view body) {
  constexpr std::string_view head = "{\"batch_id\":\"";
  constexpr std::size_t id_size = 18;
  if (body.substr(0, head.size()) != head || body.size() < head.size() + id_size)
    return {};
  return body.substr(head.size(), id_size);
}

} // namespace

void log_access(const access_entry& e, unsigned status, std::string_view body, std::size_t bytes) {
  if (!log::enabled(log::level::info))
    return;
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e.start)
              .count();
  std::string_view path = e.path;
  if (path.size() > 200)
    path = path.substr(0, 200);
  std::string_view batch = e.batch_id.empty() ? batch_id_in(body) : std::string_view{e.batch_id};
  auto msg = fmt::format("{} {} {}", e.method, path, status);
  if (batch.empty())
    log::info("http", msg,
              {{"method", e.method}, {"path", path}, {"status", status}, {"bytes", bytes},
               {"duration_ms", ms}, {"peer", e.peer}});
  else
    log::info("http", msg,
              {{"method", e.method}, {"path", path}, {"status", status}, {"bytes", bytes},
               {"duration_ms", ms}, {"batch_id", batch}, {"peer", e.peer}});
}

} // namespace taskpipe::http
