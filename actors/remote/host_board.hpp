// The stage hosts a front has heard of, from its remote stages' peer events (rare; the lock is
// never on the hot path): what the dashboard's header lists, and the segments of connected hosts
// that its stats actor asks for their counters.
#pragma once

#include "actors/remote/peer_event.hpp"
#include "actors/stats_snapshot.hpp"

#include <caf/actor_addr.hpp>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace taskpipe {

/// A connected stage host's segment: the chain one remote stage of this front has there.
struct segment_link {
  std::string peer;           ///< HOST:PORT
  std::vector<stage> stages;  ///< in pipeline order
  caf::actor_addr segment;    ///< a stage_segment_actor, held weakly
};

class host_board {
public:
  void on_peer(const peer_event& ev);
  std::vector<host_view> read() const;
  /// The segments of connected hosts (a lost one is forgotten, a reconnected one is new).
  std::vector<segment_link> segments() const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, host_view> hosts_;
  std::map<std::pair<std::string, stage>, segment_link> segments_;  ///< by peer and first stage
};

} // namespace taskpipe
