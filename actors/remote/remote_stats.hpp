// The front's view of the counters of its stages on stage hosts. The stats actor asks each
// connected segment (one remote stage's chain on one host) once a second, with a timeout, and
// records the answer or the failure here; each snapshot then shows one row per stage and host from
// that host's last answer, however old, and says how old. So a host that does not answer (frozen,
// gone) never holds a snapshot up. Plain data: the stats actor does the asking.
#pragma once

#include "actors/remote/host_board.hpp"
#include "actors/stage_tracker.hpp"
#include "actors/stats_snapshot.hpp"
#include "messages/stats.hpp"

#include <caf/actor_addr.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace taskpipe {

class remote_stats {
public:
  using clock = std::chrono::steady_clock;

  /// The segments of `links` to ask now: those not waiting for an answer. A segment seen for the
  /// first time (a new host, or a reconnected one, whose pools count from 0 again) starts over.
  std::vector<segment_link> to_ask(const std::vector<segment_link>& links);

  /// A segment's answer arrived (ignored unless it is the segment last asked for its stages).
  /// `window`: what p50/p99 cover.
  void answered(const segment_link& link, const segment_reading& r, clock::time_point now,
                clock::duration window);

  /// Asking a segment failed (timeout, error): its rows are stale until it answers again.
  void failed(const segment_link& link, std::string why);

  /// Fills `v.nodes` (one per host of `v.hosts`, in order) and v's own figures: its live nodes
  /// added up. `hosts` and `links` are the host board's, read for this snapshot.
  void view(stage_view& v, const std::vector<host_view>& hosts,
            const std::vector<segment_link>& links, clock::time_point now) const;

private:
  struct segment_data {
    caf::actor_addr segment;          ///< the one asked; another one starts over
    std::vector<stage> stages;
    bool asking = false;
    std::string error;                ///< why the last question failed; empty once answered
    std::optional<clock::time_point> answered_at;
    std::uint64_t sampled_ns = 0;     ///< the host's clock at its last answer
    std::vector<stage_tracker> trackers;  ///< one per stage
    std::vector<stage_figures> figures;   ///< one per stage, from the last answer
  };
  using key = std::pair<std::string, stage>;  ///< peer and the segment's first stage

  segment_data* find(const segment_link& link);

  std::map<key, segment_data> segments_;
};

} // namespace taskpipe
