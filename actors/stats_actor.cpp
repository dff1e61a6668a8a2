#include "actors/stats_actor.hpp"

#include "actors/remote/remote_stats.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <deque>

namespace taskpipe {

namespace {

using steady = std::chrono::steady_clock;

struct stats_state {
  stats_config cfg;
  steady::time_point started = steady::now();
  std::uint64_t seq = 0;
  // The previous sample.
  steady::time_point last = started;
  std::uint64_t accepted = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::array<stage_tracker, stage_count> stages;  ///< the local ones
  remote_stats remote;                             ///< the stage hosts' answers
  // Windows.
  std::deque<std::pair<steady::time_point, std::vector<std::uint64_t>>> failures;
  std::deque<rate_point> history;
  // The store probe.
  bool probing = false;
  std::string store_health = "unknown";
  std::string store_detail;
  coordinator_overview overview;  ///< the last one the coordinator gave
  static inline const char* name = "stats";
};

using stats_pointer = stats_actor::stateful_pointer<stats_state>;

double seconds(steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// Drops samples older than `window` except the newest of those (the base of the window).
template <class Deque>
void trim(Deque& samples, steady::time_point now, steady::duration window) {
  while (samples.size() > 1 && now - samples[1].first >= window)
    samples.pop_front();
}

const std::vector<std::string>* remote_hosts_of(const stats_config& cfg, stage s) {
  for (const auto& [which, hosts] : cfg.remote)
    if (which == s)
      return &hosts;
  return nullptr;
}

stage_view view_stage(stats_state& st, stage s, steady::time_point now, double dt,
                      const std::vector<host_view>& hosts,
                      const std::vector<segment_link>& links) {
  auto i = static_cast<std::size_t>(s);
  stage_view v;
  v.which = s;
  auto remote = remote_hosts_of(st.cfg, s);
  const auto& counters = st.cfg.counters ? st.cfg.counters->stages[i] : nullptr;
  if (remote != nullptr) {
    v.local = false;
    v.hosts = *remote;
    st.remote.view(v, hosts, links, now);
    return v;
  }
  if (!counters) {
    v.local = false;
    return v;
  }
  static_cast<stage_figures&>(v) =
    st.stages[i].update(counters->read(), now, dt, st.cfg.latency_window);
  return v;
}

stats_snapshot build(stats_state& st) {
  auto now = steady::now();
  double dt = st.seq == 0 ? 0.0 : seconds(now - st.last);
  const auto& o = st.overview;
  stats_snapshot s;
  s.seq = ++st.seq;
  s.node = st.cfg.node;
  s.version = st.cfg.version;
  s.uptime_s = seconds(now - st.started);
  s.interval_s = std::chrono::duration<double>(st.cfg.interval).count();
  s.draining = o.draining;
  s.store_kind = st.cfg.store_kind;
  s.store_health = st.store_health;
  s.store_detail = st.store_detail;
  std::vector<segment_link> links;
  if (st.cfg.hosts) {
    s.hosts = st.cfg.hosts->read();
    links = st.cfg.hosts->segments();
  }
  for (auto which : all_stages)
    s.stages.push_back(view_stage(st, which, now, dt, s.hosts, links));
  // Every admitted task is in flight, failed (each recorded failure is counted by code) or
  // succeeded: no per-task counting needed for the totals.
  std::uint64_t failed = 0;
  for (auto n : o.failures_by_code)
    failed += n;
  s.accepted = o.accepted;
  s.failed = failed;
  s.succeeded = o.accepted - std::min(o.accepted, o.in_flight + failed);
  s.in_flight = o.in_flight;
  s.batches_running = o.running;
  s.batches_done = o.batches_done;
  s.batches_cancelled = o.batches_cancelled;
  if (dt > 0) {
    auto rate = [dt](std::uint64_t now_value, std::uint64_t before) {
      return static_cast<double>(now_value - std::min(before, now_value)) / dt;
    };
    s.rates = rate_point{rate(s.accepted, st.accepted), rate(s.succeeded, st.succeeded),
                         rate(s.failed, st.failed)};
    st.history.push_back(s.rates);
    while (st.history.size() > st.cfg.history)
      st.history.pop_front();
  }
  st.accepted = s.accepted;
  st.succeeded = s.succeeded;
  st.failed = s.failed;
  st.last = now;
  s.history.assign(st.history.begin(), st.history.end());
  s.batches = o.recent;
  auto by_code = o.failures_by_code;
  by_code.resize(failure_code_count);
  st.failures.emplace_back(now, by_code);
  trim(st.failures, now, st.cfg.failure_window);
  s.failure_window_s = seconds(now - st.failures.front().first);
  for (std::size_t c = 0; c < failure_code_count; ++c)
    s.failures_by_code.push_back(
      code_count{std::string{failure_code_names[c]},
                 st.failures.back().second[c] - st.failures.front().second[c]});
  s.last_failures = o.last_failures;
  return s;
}

void publish(stats_pointer self) {
  auto& st = self->state;
  auto snapshot = build(st);
  if (st.cfg.publish)
    st.cfg.publish(snapshot);
}

void probe_store(stats_pointer self) {
  auto& st = self->state;
  if (st.probing || !st.cfg.store)
    return;
  st.probing = true;
  self->request(st.cfg.store, std::chrono::seconds{2}, get_atom_v, std::int64_t{1})
    .then(
      [self](const stored_task&) {
        self->state.probing = false;
        self->state.store_health = "ok";
        self->state.store_detail.clear();
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.probing = false;
        st.store_health = err == caf::sec::request_timeout ? "unresponsive" : "error";
        st.store_detail = err == caf::sec::request_timeout
                            ? "the store did not answer a read within 2 s"
                            : self->system().render(err);
      });
}

/// Asks every connected stage host's segment for its counters, unless it still owes the last
/// answer. The answers land in st.remote for the next snapshot: none waits for them.
void ask_hosts(stats_pointer self) {
  auto& st = self->state;
  if (!st.cfg.hosts)
    return;
  for (auto& link : st.remote.to_ask(st.cfg.hosts->segments())) {
    auto segment = caf::actor_cast<stage_segment_actor>(link.segment);
    if (!segment) {
      st.remote.failed(link, "the stage host's segment is gone");
      continue;
    }
    self->request(segment, st.cfg.remote_timeout, stats_atom_v, get_atom_v)
      .then(
        [self, link](const segment_reading& r) {
          self->state.remote.answered(link, r, steady::now(), self->state.cfg.latency_window);
        },
        [self, link](caf::error& err) {
          auto& st = self->state;
          st.remote.failed(link, err == caf::sec::request_timeout
                                   ? fmt::format("no answer within {} ms",
                                                 st.cfg.remote_timeout.count())
                                   : self->system().render(err));
        });
  }
}

stats_actor::behavior_type stats_behavior(stats_pointer self, stats_config cfg) {
  self->state.cfg = std::move(cfg);
  self->send(self, caf::tick_atom_v);
  return {
    [self](caf::tick_atom) {
      auto& st = self->state;
      self->delayed_send(self, st.cfg.interval, caf::tick_atom_v);
      ask_hosts(self);
      probe_store(self);
      if (!st.cfg.coordinator) {
        publish(self);
        return;
      }
      self->request(st.cfg.coordinator, st.cfg.interval, stats_atom_v, get_atom_v)
        .then(
          [self](coordinator_overview& o) {
            self->state.overview = std::move(o);
            publish(self);
          },
          // The coordinator is busy or gone (shutting down): the stages' counters still move.
          [self](caf::error&) { publish(self); });
    },
  };
}

} // namespace

stats_actor spawn_stats_actor(caf::actor_system& sys, stats_config cfg) {
  return sys.spawn(stats_behavior, std::move(cfg));
}

} // namespace taskpipe
