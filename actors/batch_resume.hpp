// What a restart does with an unfinished batch from the journal (store/journal.hpp): which of its
// tasks already have an outcome the store proves, which fail at once, which run again.
#pragma once

#include "messages/outcome.hpp"
#include "messages/task.hpp"
#include "store/journal.hpp"

#include <cstdint>
#include <vector>

namespace taskpipe {

struct resume_plan {
  std::vector<std::int64_t> ids;         ///< task id by position
  std::vector<std::uint32_t> succeeded;  ///< positions whose outbox row exists
  std::vector<task_failure> failures;    ///< outcomes decided now
  std::vector<task_envelope> to_run;     ///< through the pipeline again, from Validate
};

/// Sorts the positions of `r` (its tasks are moved out):
/// - a repeated id fails duplicate_in_batch as Validate would fail it;
/// - a task with an outbox row succeeded;
/// - when the deadline passed (`now_ms` >= deadline) or the batch was cancelled, the others fail
///   timeout / cancelled: at notify when their update was applied (the reason says so), else
///   between stages (not applied);
/// - every other task runs again: the store's (batch_id, task_id) keys make that exactly-once.
resume_plan plan_resume(resumable_batch& r, std::int64_t now_ms);

} // namespace taskpipe
