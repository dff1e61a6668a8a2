// The batch journal: what the store keeps of a batch so that it survives the node (written at
// admission, its outcome when it finishes) and what a restart reads back. Shared by every store
// implementation; the task list travels as one blob (encode_tasks / decode_tasks).
#pragma once

#include "messages/outcome.hpp"
#include "messages/task.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

/// A batch as admitted: written once, before it is answered or any task starts.
struct journaled_batch {
  std::uint64_t batch = 0;       ///< the coordinator's batch number
  std::int64_t admitted_ms = 0;  ///< Unix milliseconds
  std::int64_t deadline_ms = 0;  ///< Unix milliseconds: admission plus the batch's timeout
  std::string idempotency_key;   ///< "" for none
  std::string body_digest;       ///< of the request body, to tell a retry from a reused key
  std::vector<task_update> tasks;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journaled_batch& x) {
  return f(caf::meta::type_name("journaled_batch"), x.batch, x.admitted_ms, x.deadline_ms,
           x.idempotency_key, x.body_digest, x.tasks);
}

/// A change of a batch's recorded state: a cancel request (finished_ms 0), or the batch finished
/// with its failures (every task without one succeeded: its outbox row says so).
struct batch_outcome {
  std::uint64_t batch = 0;
  batch_state state = batch_state::running;  ///< done or cancelled
  std::int64_t finished_ms = 0;              ///< Unix milliseconds; 0: not finished yet
  double elapsed_ms = 0;                     ///< as the report says it
  std::uint64_t succeeded = 0;
  std::vector<task_failure> failures;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_outcome& x) {
  return f(caf::meta::type_name("batch_outcome"), x.batch, x.state, x.finished_ms, x.elapsed_ms,
           x.succeeded, x.failures);
}

/// The batch an Idempotency-Key was journaled with.
struct key_owner {
  std::uint64_t batch = 0;  ///< 0: none
  std::string body_digest;
};

/// An unfinished batch as a restart finds it.
struct resumable_batch {
  journaled_batch admitted;
  bool cancelled = false;                  ///< a cancel was recorded
  std::vector<std::int64_t> notified_ids;  ///< task ids with an outbox row (they succeeded)
  std::vector<std::int64_t> applied_ids;   ///< task ids with an applied_updates row
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resumable_batch& x) {
  return f(caf::meta::type_name("resumable_batch"), x.admitted, x.cancelled, x.notified_ids,
           x.applied_ids);
}

/// Every unfinished batch of a store (one message).
struct resumable_batches {
  std::vector<resumable_batch> batches;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resumable_batches& x) {
  return f(caf::meta::type_name("resumable_batches"), x.batches);
}

/// The task list as one blob, compact because it is written (and fsynced) before a batch starts:
/// a 4-byte mark, the task count as a varint, then per task its id as the zigzag varint of the
/// step from the previous id (one byte for consecutive ids), a flag byte (low three bits: no
/// type, one of the four contract types, or other text; 8: a summary follows) and each text as
/// a varint length and its bytes.
std::string encode_tasks(const std::vector<task_update>& tasks);

/// Inverse of encode_tasks, and of the fixed-width format written before it (8-byte ids, 4-byte
/// lengths), so that a batch journaled by an older node resumes; false for anything else.
bool decode_tasks(std::string_view blob, std::vector<task_update>& out);

/// The reason a task gets when its batch's deadline passed while the node was down.
std::string expired_while_down_reason(bool applied);

/// The reason a task gets when its batch was cancelled and the node restarted before the task
/// finished.
std::string cancelled_while_down_reason(bool applied);

} // namespace taskpipe
