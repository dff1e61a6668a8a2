// The coordinator's cache of finished reports: the most recently used ones, bounded by count and
// by bytes, each kept until its batch expires (--retention). The store holds every finished
// report for the retention; this keeps the popular ones rendered (messages/report.hpp) so that
// readers share them. Plain data, no actors: the coordinator owns one.
#pragma once

#include "messages/report.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <string>
#include <unordered_map>

namespace taskpipe {

/// Defaults of the cache's bounds: about 64 MiB holds a few 100,000-failure reports (~12 MiB
/// each) or thousands of small ones.
inline constexpr std::size_t default_cached_reports = 1'000;
inline constexpr std::size_t default_cached_report_bytes = std::size_t{64} << 20;

struct finished_entry {
  shared_report report;
  /// With the journal off the node's only record of a batch's Idempotency-Key (with the
  /// journal, the store keeps it and these stay empty).
  std::string idempotency_key;
  std::string body_digest;

  std::size_t bytes() const;
};

/// The bounds of a finished_reports cache.
struct finished_report_limits {
  std::size_t max_reports = default_cached_reports;
  std::size_t max_bytes = default_cached_report_bytes;
  std::chrono::milliseconds retention = std::chrono::hours{24};

  /// No bound but the retention (the journal is off: nothing else holds the reports).
  static finished_report_limits unbounded(std::chrono::milliseconds retention) {
    return {std::numeric_limits<std::size_t>::max(), std::numeric_limits<std::size_t>::max(),
            retention};
  }
};

class finished_reports {
public:
  using limits = finished_report_limits;

  /// Told of every entry the cache drops (evicted or expired), before it goes.
  using drop_fn = std::function<void(std::uint64_t batch, const finished_entry&)>;

  finished_reports() : finished_reports(limits{}, {}) {
  }
  explicit finished_reports(limits bounds, drop_fn on_drop = {});

  /// Keeps the report of `batch` as the most recently used (replacing an older entry of it) and
  /// evicts the least recently used ones beyond the bounds. A report larger than max_bytes on
  /// its own is not kept (and evicts nothing; its readers still share it). `now_ms`: Unix
  /// milliseconds.
  void insert(std::uint64_t batch, finished_entry entry, std::int64_t now_ms);

  /// The entry of `batch`, marked as used; null when absent or expired (then dropped).
  const finished_entry* find(std::uint64_t batch, std::int64_t now_ms);

  /// The entry of `batch` without marking it used (the dashboard's look); null like find().
  const finished_entry* peek(std::uint64_t batch, std::int64_t now_ms) const;

  /// Drops every expired entry; at most one sweep per second does any work (insert calls it).
  void expire(std::int64_t now_ms);

  std::size_t size() const {
    return index_.size();
  }
  std::size_t bytes() const {
    return bytes_;
  }

private:
  struct node {
    std::uint64_t batch;
    finished_entry entry;
    std::size_t bytes;
  };
  using list = std::list<node>;

  bool expired(const finished_entry& e, std::int64_t now_ms) const;
  void drop(list::iterator i);

  limits bounds_;
  drop_fn on_drop_;
  list lru_;  ///< most recently used first
  std::unordered_map<std::uint64_t, list::iterator> index_;
  std::size_t bytes_ = 0;
  bool swept_ = false;
  std::int64_t last_sweep_ms_ = 0;
};

} // namespace taskpipe
