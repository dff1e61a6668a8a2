#include "actors/remote/remote_stats.hpp"

#include <algorithm>

namespace taskpipe {

namespace {

bool serves(const std::vector<stage>& stages, stage s) {
  return std::find(stages.begin(), stages.end(), s) != stages.end();
}

} // namespace

remote_stats::segment_data* remote_stats::find(const segment_link& link) {
  if (link.stages.empty())
    return nullptr;
  auto i = segments_.find(key{link.peer, link.stages.front()});
  return i != segments_.end() && i->second.segment == link.segment ? &i->second : nullptr;
}

std::vector<segment_link> remote_stats::to_ask(const std::vector<segment_link>& links) {
  std::vector<segment_link> ask;
  for (const auto& link : links) {
    if (link.stages.empty() || !link.segment)
      continue;
    auto& data = segments_[key{link.peer, link.stages.front()}];
    if (data.segment != link.segment) {
      data = segment_data{};
      data.segment = link.segment;
      data.stages = link.stages;
      data.trackers.resize(link.stages.size());
    }
    if (!data.asking) {
      data.asking = true;
      ask.push_back(link);
    }
  }
  return ask;
}

void remote_stats::answered(const segment_link& link, const segment_reading& r,
                            clock::time_point now, clock::duration window) {
  auto data = find(link);
  if (data == nullptr)
    return;
  data->asking = false;
  if (r.readings.size() != data->stages.size()) {
    data->error = "the stage host answered for other stages";
    return;
  }
  double dt = data->answered_at && r.sampled_ns > data->sampled_ns
                ? static_cast<double>(r.sampled_ns - data->sampled_ns) / 1e9
                : 0.0;
  data->figures.resize(r.readings.size());
  for (std::size_t i = 0; i < r.readings.size(); ++i)
    data->figures[i] = data->trackers[i].update(r.readings[i], now, dt, window);
  data->error.clear();
  data->answered_at = now;
  data->sampled_ns = r.sampled_ns;
}

void remote_stats::failed(const segment_link& link, std::string why) {
  if (auto data = find(link)) {
    data->asking = false;
    data->error = std::move(why);
  }
}

void remote_stats::view(stage_view& v, const std::vector<host_view>& hosts,
                        const std::vector<segment_link>& links, clock::time_point now) const {
  latency_histogram latency{};
  double busy_workers = 0;
  for (const auto& peer : v.hosts) {
    node_view n;
    n.peer = peer;
    // This host's last data for the stage, from whichever segment answered last.
    const segment_data* data = nullptr;
    std::size_t index = 0;
    for (const auto& [k, d] : segments_)
      if (k.first == peer && serves(d.stages, v.which)) {
        data = &d;
        index = static_cast<std::size_t>(
          std::find(d.stages.begin(), d.stages.end(), v.which) - d.stages.begin());
      }
    auto link = std::find_if(links.begin(), links.end(), [&](const segment_link& l) {
      return l.peer == peer && serves(l.stages, v.which);
    });
    if (link != links.end()) {
      bool current = data != nullptr && data->segment == link->segment;
      if (current && !data->error.empty()) {
        n.state = "stale";
        n.detail = data->error;
      } else {
        n.state = current && data->answered_at ? "live" : "connecting";
      }
    } else {
      auto host = std::find_if(hosts.begin(), hosts.end(),
                               [&](const host_view& h) { return h.peer == peer; });
      if (host == hosts.end() || host->state == "connected") {
        n.state = "connecting";
      } else {
        n.state = host->state;  // lost, unreachable
        n.detail = host->detail;
      }
    }
    if (data != nullptr && data->answered_at && index < data->figures.size()) {
      static_cast<stage_figures&>(n) = data->figures[index];
      n.age_s = std::chrono::duration<double>(now - *data->answered_at).count();
      if (n.state != "live") {
        // Its last totals stay; rates and busy shares would claim work that is not seen.
        n.done_per_s = n.failed_per_s = n.busy = 0;
        for (auto& w : n.workers)
          w.busy = 0;
      }
    }
    if (n.state == "live") {
      v.held += n.held;
      v.waiting += n.waiting;
      v.queued_chunks += n.queued_chunks;
      v.done += n.done;
      v.failed += n.failed;
      v.done_per_s += n.done_per_s;
      v.failed_per_s += n.failed_per_s;
      busy_workers += n.busy * static_cast<double>(n.workers.size());
      v.workers.insert(v.workers.end(), n.workers.begin(), n.workers.end());
      const auto& h = data->trackers[index].window_latency();
      for (std::size_t b = 0; b < latency_bucket_count; ++b)
        latency[b] += h[b];
    }
    v.nodes.push_back(std::move(n));
  }
  v.busy = v.workers.empty() ? 0.0 : busy_workers / static_cast<double>(v.workers.size());
  v.p50_ms = latency_quantile_ms(latency, 0.50);
  v.p99_ms = latency_quantile_ms(latency, 0.99);
}

} // namespace taskpipe
