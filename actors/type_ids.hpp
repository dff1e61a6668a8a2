// The one type-ID block of taskpipe: every message type and every actor handle that crosses the
// network, registered by one call (register_types). Atoms need no ID in CAF 0.17.6; they are
// listed in messages/atoms.hpp. A type that is sent but missing here arrives as an empty message.
#pragma once

#include "actors/interfaces.hpp"
#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "messages/task.hpp"
#include "store/journal.hpp"

#include <caf/fwd.hpp>
#include <caf/type_id.hpp>

#include <string>
#include <vector>

CAF_BEGIN_TYPE_ID_BLOCK(taskpipe, caf::first_custom_type_id)

  // Tasks and their outcomes (messages/).
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::task_update))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::task_envelope))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::task_chunk))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::task_ref))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::completion_chunk))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::batch_request))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::task_failure))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::failure_chunk))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::stored_task))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::store_counts))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::batch_report))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::failure_counts))
  CAF_ADD_TYPE_ID(taskpipe, (std::vector<std::string>))
  // The dashboard's stats (messages/stats.hpp).
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::batch_summary))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::coordinator_overview))

  // The batch journal (store/journal.hpp).
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::journaled_batch))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::batch_outcome))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::resumable_batch))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::resumable_batches))

  // Actor handles that travel in messages (actors/interfaces.hpp).
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::stage_actor))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::outcome_sink_actor))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::coordinator_actor))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::failure_aggregator_actor))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::store_actor))
  CAF_ADD_TYPE_ID(taskpipe, (taskpipe::stage_host_actor))

CAF_END_TYPE_ID_BLOCK(taskpipe)

namespace taskpipe {

/// Registers the type-ID block and the `refusal` error category on `cfg`. Call on every node's
/// config before its actor system is constructed (both ends of a link).
void register_types(caf::actor_system_config& cfg);

} // namespace taskpipe
