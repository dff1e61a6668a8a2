#include "messages/registry.hpp"

#include "messages/task.hpp"

#include <caf/make_message.hpp>

namespace taskpipe {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<task_update>("taskpipe::task_update");
  cfg.add_message_type<task_envelope>("taskpipe::task_envelope");
  cfg.add_message_type<task_chunk>("taskpipe::task_chunk");
  cfg.add_message_type<task_ref>("taskpipe::task_ref");
  cfg.add_message_type<completion_chunk>("taskpipe::completion_chunk");
  cfg.add_message_type<batch_request>("taskpipe::batch_request");
  cfg.add_message_type<task_failure>("taskpipe::task_failure");
  cfg.add_message_type<failure_chunk>("taskpipe::failure_chunk");
  cfg.add_message_type<stored_task>("taskpipe::stored_task");
  cfg.add_message_type<store_counts>("taskpipe::store_counts");
  cfg.add_message_type<batch_report>("taskpipe::batch_report");
  cfg.add_message_type<failure_counts>("taskpipe::failure_counts");
  cfg.add_error_category(error_category, [](std::uint8_t code, caf::atom_value,
                                            const caf::message& ctx) -> std::string {
    auto text = to_string(static_cast<refusal>(code));
    if (ctx.match_elements<std::string>())
      text += ": " + ctx.get_as<std::string>(0);
    return text;
  });
}

caf::error make_error(refusal code, std::string detail) {
  return caf::error{static_cast<std::uint8_t>(code), error_category,
                    caf::make_message(std::move(detail))};
}

bool as_refusal(const caf::error& err, refusal& out) {
  if (!err || err.category() != error_category)
    return false;
  out = static_cast<refusal>(err.code());
  return true;
}

} // namespace taskpipe
