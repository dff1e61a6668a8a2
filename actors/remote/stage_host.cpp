#include "actors/remote/stage_host.hpp"


#include <caf/all.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace taskpipe {

namespace {

/// One front node's chain of pools on this host, seen from outside as one stage.
struct segment_state {
  std::vector<stage> stages;       ///< in pipeline order
  std::vector<stage_actor> pools;  ///< in pipeline order
  store_actor store;               ///< this host's store: it enforces cancel and deadlines too
  std::shared_ptr<const node_stage_counters> counters;  ///< its pools' own (the front's dashboard)
  static inline const char* name = "stage_segment";
};

stage_segment_actor::behavior_type
segment(stage_segment_actor::stateful_pointer<segment_state> self, std::vector<stage> stages,
        std::vector<stage_actor> pools, store_actor store,
        std::shared_ptr<const node_stage_counters> counters, outcome_sink_actor coordinator) {
  self->state.stages = std::move(stages);
  self->state.pools = std::move(pools);
  self->state.store = std::move(store);
  self->state.counters = std::move(counters);
  // The chain lives as long as its front node: a lost front leaves nothing running here.
  self->monitor(coordinator);
  auto end_chain = [self](const caf::error& reason) {
    for (auto& p : self->state.pools)
      self->send_exit(p, reason ? reason : caf::make_error(caf::exit_reason::user_shutdown));
    self->quit(reason);
  };
  self->set_down_handler([end_chain](caf::down_msg& msg) { end_chain(msg.reason); });
  self->set_exit_handler([end_chain](caf::exit_msg& msg) { end_chain(msg.reason); });
  return {
    [self](task_chunk& chunk) { self->send(self->state.pools.front(), std::move(chunk)); },
    [self](cancel_atom, std::uint64_t batch) {
      for (auto& p : self->state.pools)
        self->send(p, cancel_atom_v, batch);
      self->send(self->state.store, cancel_atom_v, batch);
    },
    [self](expire_atom, std::uint64_t batch) {
      for (auto& p : self->state.pools)
        self->send(p, expire_atom_v, batch);
      self->send(self->state.store, expire_atom_v, batch);
    },
    // Once a second from the front's stats actor: a few locks on worker lists, no message to a
    // pool.
    [self](stats_atom, get_atom) {
      const auto& st = self->state;
      segment_reading r;
      r.sampled_ns = steady_ns();
      for (auto s : st.stages)
        r.readings.push_back(st.counters->stages[static_cast<std::size_t>(s)]->read());
      return r;
    },
  };
}

struct host_state {
  stage_host_config cfg;
  /// Every chain spawned, so that exiting the host ends them.
  std::vector<stage_segment_actor> segments;
  std::map<caf::actor_addr, peer_event> links;  ///< what each chain was reported as (on_peer)
  static inline const char* name = "stage_host";
};

stage_host_actor::behavior_type host(stage_host_actor::stateful_pointer<host_state> self,
                                     stage_host_config cfg) {
  self->state.cfg = std::move(cfg);
  self->set_down_handler([self](caf::down_msg& msg) {
    std::erase_if(self->state.segments,
                  [&](const stage_segment_actor& s) { return s.address() == msg.source; });
    if (auto i = self->state.links.find(msg.source); i != self->state.links.end()) {
      i->second.what = peer_event::kind::lost;
      i->second.detail = self->system().render(msg.reason);
      self->state.cfg.on_peer(i->second);
      self->state.links.erase(i);
    }
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& s : self->state.segments)
      self->send_exit(s, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [self](spawn_atom, const std::vector<std::string>& names, stage_actor next,
           outcome_sink_actor coordinator,
           failure_aggregator_actor failures) -> caf::result<stage_segment_actor> {
      const auto& cfg = self->state.cfg;
      std::vector<stage> wanted;
      for (const auto& name : names) {
        stage s;
        if (!from_string(name, s) || std::find(cfg.stages.begin(), cfg.stages.end(), s)
                                       == cfg.stages.end())
          return caf::make_error(caf::sec::invalid_argument,
                                 fmt::format("this node does not host stage '{}'", name));
        wanted.push_back(s);
      }
      if (wanted.empty() || !coordinator || !failures)
        return caf::make_error(caf::sec::invalid_argument, "nothing to spawn");
      // Each chain counts for itself: every counter keeps its one writer, and a front sees
      // only the work it sent.
      auto local = cfg.local;
      local.counters = node_stage_counters::make_all();
      auto pools = spawn_chain(self->system(), wanted, local, chain_placement{}, next,
                               chain_outputs{coordinator, failures});
      auto chain = self->system().spawn(segment, wanted, std::move(pools), cfg.local.store,
                                        std::shared_ptr<const node_stage_counters>{local.counters},
                                        std::move(coordinator));
      // A chain ends with its front; forget it then, so the list does not grow forever.
      self->monitor(chain);
      self->state.segments.push_back(chain);
      if (cfg.on_peer) {
        auto sender = self->current_sender();
        peer_event ev{peer_event::kind::connected, wanted,
                      sender ? caf::to_string(sender->node()) : std::string{"?"}, {}, {}};
        cfg.on_peer(ev);
        self->state.links.emplace(chain.address(), std::move(ev));
      }
      return chain;
    },
    [self](get_atom) {
      std::vector<std::string> names;
      for (auto s : self->state.cfg.stages)
        names.push_back(to_string(s));
      return names;
    },
  };
}

} // namespace

stage_host_actor spawn_stage_host(caf::actor_system& sys, stage_host_config cfg) {
  return sys.spawn(host, std::move(cfg));
}

std::vector<stage> parse_stage_list(const std::string& text) {
  std::vector<stage> result;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    auto word = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    stage s;
    if (!from_string(word, s) || s == stage::pipeline)
      throw std::invalid_argument(
        fmt::format("'{}' is not a stage (validate, audit, update, notify)", word));
    if (!result.empty() && static_cast<int>(s) <= static_cast<int>(result.back()))
      throw std::invalid_argument(
        fmt::format("'{}' is repeated or out of pipeline order (validate, audit, update, notify)",
                    word));
    result.push_back(s);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return result;
}

} // namespace taskpipe
