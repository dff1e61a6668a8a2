#include "actors/remote/host_board.hpp"

#include <algorithm>

namespace taskpipe {

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
  if (ev.stages.empty())
    return;
  auto key = std::make_pair(ev.peer, ev.stages.front());
  if (ev.what == peer_event::kind::connected && ev.segment)
    segments_[key] = segment_link{ev.peer, ev.stages, ev.segment};
  else
    segments_.erase(key);
}

std::vector<host_view> host_board::read() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<host_view> out;
  for (const auto& [peer, h] : hosts_)
    out.push_back(h);
  return out;
}

std::vector<segment_link> host_board::segments() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<segment_link> out;
  for (const auto& [key, link] : segments_)
    out.push_back(link);
  return out;
}

} // namespace taskpipe
