#include "actors/stats_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <deque>

namespace taskpipe {

// -- host_board ----------------------------------------------------------------------------------

void host_board::on_peer(const peer_event& ev) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& h = hosts_[ev.peer];
  h.peer = ev.peer;
  for (auto s : ev.stages) {
    auto name = to_string(s);
    if (std::find(h.stages.begin(), h.stages.end(), name) == h.stages.end())
      h.stages.push_back(name);
  }
  h.state = ev.what == peer_event::kind::connected   ? "connected"
            : ev.what == peer_event::kind::lost      ? "lost"
                                                     : "unreachable";
  h.detail = ev.detail;
}

std::vector<host_view> host_board::read() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<host_view> out;
  for (const auto& [peer, h] : hosts_)
    out.push_back(h);
  return out;
}

// -- quantiles -----------------------------------------------------------------------------------

std::optional<double> latency_quantile_ms(const std::array<std::uint64_t, latency_bucket_count>& h,
                                          double q) {
  std::uint64_t total = 0;
  for (auto n : h)
    total += n;
  if (total == 0)
    return std::nullopt;
  auto target = q * static_cast<double>(total);
  double below = 0;
  for (std::size_t b = 0; b < latency_bucket_count; ++b) {
    auto n = static_cast<double>(h[b]);
    if (n > 0 && below + n >= target) {
      double lower = b == 0 ? 0.0 : static_cast<double>(latency_bucket_bound(b - 1));
      double upper = static_cast<double>(latency_bucket_bound(b));
      return (lower + (upper - lower) * ((target - below) / n)) / 1000.0;
    }
    below += n;
  }
  return static_cast<double>(latency_bucket_bound(latency_bucket_count - 1)) / 1000.0;
}

namespace {

using steady = std::chrono::steady_clock;
using histogram = std::array<std::uint64_t, latency_bucket_count>;

/// A counter sample, kept to compute the next interval's rates.
struct stage_sample {
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  std::uint64_t busy_ns = 0;
  std::vector<std::uint64_t> worker_busy_ns;
};

struct stats_state {
  stats_config cfg;
  steady::time_point started = steady::now();
  std::uint64_t seq = 0;
  // The previous sample.
  steady::time_point last = started;
  std::uint64_t accepted = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::array<stage_sample, stage_count> stages;
  // Windows.
  std::array<std::deque<std::pair<steady::time_point, histogram>>, stage_count> latency;
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

stage_view view_stage(stats_state& st, stage s, steady::time_point now, double dt) {
  auto i = static_cast<std::size_t>(s);
  stage_view v;
  v.which = s;
  auto remote = remote_hosts_of(st.cfg, s);
  const auto& counters = st.cfg.counters ? st.cfg.counters->stages[i] : nullptr;
  if (remote != nullptr || !counters) {
    v.local = false;
    if (remote != nullptr)
      v.hosts = *remote;
    return v;
  }
  auto r = counters->read();
  auto& prev = st.stages[i];
  v.waiting = r.waiting;
  v.held = r.waiting + r.ready;
  v.queued_chunks = r.queued_chunks;
  v.done = r.done;
  v.failed = r.failed;
  if (dt > 0) {
    v.done_per_s = static_cast<double>(r.done - std::min(prev.done, r.done)) / dt;
    v.failed_per_s = static_cast<double>(r.failed - std::min(prev.failed, r.failed)) / dt;
    if (!r.workers.empty()) {
      auto busy = static_cast<double>(r.busy_ns - std::min(prev.busy_ns, r.busy_ns));
      v.busy = std::clamp(busy / (dt * 1e9 * static_cast<double>(r.workers.size())), 0.0, 1.0);
    }
  }
  bool same_workers = prev.worker_busy_ns.size() == r.workers.size();
  std::vector<std::uint64_t> worker_busy;
  for (std::size_t w = 0; w < r.workers.size(); ++w) {
    const auto& x = r.workers[w];
    v.held += x.held;
    worker_view wv{x.held, x.done, x.failed, 0};
    if (dt > 0 && same_workers)
      wv.busy = std::clamp(static_cast<double>(x.busy_ns
                                               - std::min(prev.worker_busy_ns[w], x.busy_ns))
                             / (dt * 1e9),
                           0.0, 1.0);
    v.workers.push_back(wv);
    worker_busy.push_back(x.busy_ns);
  }
  prev = stage_sample{r.done, r.failed, r.busy_ns, std::move(worker_busy)};
  auto& window = st.latency[i];
  window.emplace_back(now, r.latency);
  trim(window, now, st.cfg.latency_window);
  histogram delta{};
  for (std::size_t b = 0; b < latency_bucket_count; ++b)
    delta[b] = window.back().second[b] - window.front().second[b];
  if (window.size() == 1)
    delta = window.back().second;  // the first sample: everything since start
  v.p50_ms = latency_quantile_ms(delta, 0.50);
  v.p99_ms = latency_quantile_ms(delta, 0.99);
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
  if (st.cfg.hosts)
    s.hosts = st.cfg.hosts->read();
  for (auto which : all_stages)
    s.stages.push_back(view_stage(st, which, now, dt));
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

stats_actor::behavior_type stats_behavior(stats_pointer self, stats_config cfg) {
  self->state.cfg = std::move(cfg);
  self->send(self, caf::tick_atom_v);
  return {
    [self](caf::tick_atom) {
      auto& st = self->state;
      self->delayed_send(self, st.cfg.interval, caf::tick_atom_v);
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
