// The dashboard's snapshot of a node: what the stats actor builds once a second and the HTTP
// front serves as JSON (GET /v1/stats, GET /v1/events). Plain data, no actors.
#pragma once

#include "messages/outcome.hpp"
#include "messages/stats.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace taskpipe {

struct worker_view {
  std::uint64_t held = 0;
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  double busy = 0;  ///< share of the last interval it held work, 0 to 1
};

/// What the dashboard shows of a stage pool: a local one, one on a stage host, or the live nodes of
/// a remote stage added up.
struct stage_figures {
  std::uint64_t held = 0;          ///< tasks in the pool: waiting, ready and at workers
  std::uint64_t waiting = 0;       ///< of them, waiting out their simulated latency
  std::uint64_t queued_chunks = 0; ///< chunks handed to workers and not finished
  std::uint64_t done = 0;          ///< since start
  std::uint64_t failed = 0;        ///< since start
  double done_per_s = 0;
  double failed_per_s = 0;
  double busy = 0;                 ///< the workers' mean busy share over the last interval
  std::optional<double> p50_ms;    ///< over the last latency window; none without tasks
  std::optional<double> p99_ms;
  std::vector<worker_view> workers;
};

/// A remote stage's pool on one stage host (one row per node), from that host's last answer.
struct node_view : stage_figures {
  std::string peer;             ///< HOST:PORT
  std::string state;            ///< live, stale, connecting, lost, unreachable
  std::optional<double> age_s;  ///< since its last answer; none before the first
  std::string detail;           ///< why it is not live
};

struct stage_view : stage_figures {
  stage which = stage::validate;
  bool local = true;               ///< false: runs on stage hosts (its figures add up `nodes`)
  std::vector<std::string> hosts;  ///< remote: where
  std::vector<node_view> nodes;    ///< remote: one per host, in `hosts` order
};

struct host_view {
  std::string peer;                 ///< HOST:PORT
  std::vector<std::string> stages;
  std::string state;                ///< connected, lost, unreachable
  std::string detail;
};

struct rate_point {
  double accepted = 0;  ///< tasks per second
  double done = 0;
  double failed = 0;
};

struct code_count {
  std::string code;
  std::uint64_t count = 0;
};

struct stats_snapshot {
  std::uint64_t seq = 0;
  std::string node;
  std::string version;
  double uptime_s = 0;
  double interval_s = 1;
  bool draining = false;
  std::string store_kind;
  std::string store_health = "unknown";  ///< ok, error, unresponsive, unknown
  std::string store_detail;
  std::vector<host_view> hosts;
  std::vector<stage_view> stages;       ///< pipeline order
  rate_point rates;                     ///< over the last interval
  std::vector<rate_point> history;      ///< one per interval, oldest first
  std::uint64_t accepted = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t batches_running = 0;
  std::uint64_t batches_done = 0;
  std::uint64_t batches_cancelled = 0;
  std::vector<batch_summary> batches;   ///< most recent first
  double failure_window_s = 0;          ///< what failures_by_code covers (up to 300 s)
  std::vector<code_count> failures_by_code;  ///< every code, in the contract's order
  std::vector<task_failure> last_failures;   ///< newest first
};

} // namespace taskpipe
