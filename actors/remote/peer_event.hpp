// What the links between nodes report to the process that runs them, for its log and (on a
// front) for systemd readiness: a stage host connected, could not be reached at start-up, or was
// lost; on a stage host, a front's chain of stages was spawned or ended. Rare events, never per
// task. The callback runs on an actor's thread: it must be quick and thread-safe.
#pragma once

#include "messages/outcome.hpp"

#include <caf/actor_addr.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace taskpipe {

struct peer_event {
  enum class kind : std::uint8_t {
    connected,    ///< a link is up (a front: to a stage host; a stage host: a front's chain)
    unreachable,  ///< a stage host's first connection attempt failed (retries are not reported)
    lost,         ///< a link that was up went away
  };
  kind what = kind::connected;
  std::vector<stage> stages;  ///< the stages the link carries
  std::string peer;           ///< the other side: HOST:PORT of a stage host, a front's node id
  std::string detail;         ///< why it was unreachable or lost
  /// On a front, `connected`: the stage host's segment for these stages (a stage_segment_actor),
  /// held weakly; the dashboard's stats actor asks it for its counters.
  caf::actor_addr segment;
};

using peer_event_fn = std::function<void(const peer_event&)>;

} // namespace taskpipe
