#include "actors/type_ids.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace taskpipe {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::taskpipe>();
  // "overloaded: 12 tasks in flight; ...": the refusal's name, then its detail.
  auto render = [](std::uint8_t code, caf::atom_value, const caf::message& ctx) {
    auto text = to_string(static_cast<refusal>(code));
    if (ctx.match_elements<std::string>())
      text += ": " + ctx.get_as<std::string>(0);
    return text;
  };
  cfg.add_error_category(caf::detail::error_factory<refusal>::category, render);
}

} // namespace taskpipe
