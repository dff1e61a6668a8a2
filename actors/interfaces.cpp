#include "actors/interfaces.hpp"

#include "messages/registry.hpp"

#include <caf/actor_system_config.hpp>

namespace taskpipe {

void register_types(caf::actor_system_config& cfg) {
  register_message_types(cfg);
  cfg.add_message_type<stage_actor>("taskpipe::stage_actor");
  cfg.add_message_type<coordinator_actor>("taskpipe::coordinator_actor");
  cfg.add_message_type<failure_aggregator_actor>("taskpipe::failure_aggregator_actor");
  cfg.add_message_type<store_actor>("taskpipe::store_actor");
  cfg.add_message_type<stage_host_actor>("taskpipe::stage_host_actor");
  cfg.add_message_type<std::vector<std::string>>("std::vector<std::string>");
}

} // namespace taskpipe
