// The one place that registers every message type, so that each can cross the network.
#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "messages/outcome.hpp"

namespace taskpipe {

/// Call on every actor_system_config before the system is constructed (both ends of a link).
void register_message_types(caf::actor_system_config& cfg);

/// Category of taskpipe's errors in caf::error.
inline constexpr caf::atom_value error_category = caf::atom("taskpipe");

caf::error make_error(refusal code, std::string detail);

/// The refusal carried by `err`, if it is one of ours.
bool as_refusal(const caf::error& err, refusal& out);

} // namespace taskpipe
