// systemd's service notifications (sd_notify(3)) in a few lines of our own: one datagram to the
// AF_UNIX socket named by $NOTIFY_SOCKET (absent when not run by a Type=notify unit), plus the
// readiness rule of `taskpipe serve`.
#pragma once

#include "actors/remote/peer_event.hpp"

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

/// Sends `state` ("READY=1", "STOPPING=1", "STATUS=...", newline-separated) when $NOTIFY_SOCKET
/// is set; returns whether it was sent. Never blocks, never throws.
bool sd_notify(std::string_view state);

/// READY=1 once the HTTP front listens and every remote stage has a connected stage host; until
/// then STATUS= says what it waits for. Logs the peer events it is fed. Thread-safe: events come
/// from actor threads.
class readiness {
public:
  /// `remote`: the stages that run on stage hosts (empty: ready as soon as it listens).
  explicit readiness(std::vector<stage> remote);

  void listening(const std::string& address);
  void on_peer(const peer_event& ev);
  bool ready() const;

private:
  void update();  // with mutex_ held

  mutable std::mutex mutex_;
  std::map<stage, std::set<std::string>> connected_;  ///< per remote stage: hosts up
  std::string address_;
  bool listening_ = false;
  bool ready_ = false;
  std::string last_status_;
};

} // namespace taskpipe
