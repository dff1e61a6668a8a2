// The latest dashboard snapshot as the HTTP front serves it: the stats actor publishes one JSON
// text a second; GET /v1/stats answers the latest, and every GET /v1/events stream sends each new
// one. The lock is taken once a second by the writer and once per request or event by readers.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace taskpipe::http {

struct stats_frame {
  std::uint64_t seq = 0;  ///< 1, 2, ... (the event id)
  std::string json;
};

class stats_feed {
public:
  void publish(std::string json) {
    std::lock_guard<std::mutex> guard{mutex_};
    auto next = std::make_shared<stats_frame>();
    next->seq = latest_ ? latest_->seq + 1 : 1;
    next->json = std::move(json);
    latest_ = std::move(next);
  }

  /// Null until the first snapshot.
  std::shared_ptr<const stats_frame> latest() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return latest_;
  }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const stats_frame> latest_;
};

} // namespace taskpipe::http
