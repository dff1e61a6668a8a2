// Task updates as they travel through the pipeline.
#pragma once

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

/// The task types: enumerator and the contract's exact name.
#define TASKPIPE_TASK_TYPES(X) X(epic, "Epic") X(story, "Story") X(sub_task, "SubTask") \
  X(tech_task, "TechTask")

#define TASKPIPE_TASK_TYPE_ENUMERATOR(name, text) name,
enum class task_type : std::uint8_t { TASKPIPE_TASK_TYPES(TASKPIPE_TASK_TYPE_ENUMERATOR) };
#undef TASKPIPE_TASK_TYPE_ENUMERATOR

/// "Epic", "Story", "SubTask" or "TechTask".
std::string to_string(task_type x);

/// Exact-case parse of the contract's type names; false for anything else.
bool from_string(std::string_view text, task_type& out);

/// One requested change. `type` stays the client's raw text so that Validate can reject it with
/// the offending value in the reason (caf::optional: std::optional does not compile in CAF 0.17
/// inspectors).
struct task_update {
  std::int64_t id = 0;
  caf::optional<std::string> type;
  caf::optional<std::string> summary;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_update& x) {
  return f(caf::meta::type_name("task_update"), x.id, x.type, x.summary);
}

/// What a stage receives: the update plus where it belongs.
struct task_envelope {
  std::uint64_t batch = 0;  ///< the coordinator's batch number
  std::uint32_t index = 0;  ///< position in the batch; identifies the task even when ids repeat
  bool duplicate = false;   ///< an earlier task of the batch has the same id
  task_update update;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_envelope& x) {
  return f(caf::meta::type_name("task_envelope"), x.batch, x.index, x.duplicate, x.update);
}

/// Tasks move between actors in chunks: per-message cost dominates at millions of tasks/s.
struct task_chunk {
  std::vector<task_envelope> tasks;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_chunk& x) {
  return f(caf::meta::type_name("task_chunk"), x.tasks);
}

/// Identifies one task of one batch.
struct task_ref {
  std::uint64_t batch = 0;
  std::uint32_t index = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_ref& x) {
  return f(caf::meta::type_name("task_ref"), x.batch, x.index);
}

/// Tasks that left Notify successfully.
struct completion_chunk {
  std::vector<task_ref> tasks;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, completion_chunk& x) {
  return f(caf::meta::type_name("completion_chunk"), x.tasks);
}

/// A client's batch as handed to the coordinator.
struct batch_request {
  std::vector<task_update> tasks;
  std::uint64_t timeout_ms = 0;  ///< 0: the coordinator's default deadline
  std::string idempotency_key;   ///< the client's Idempotency-Key; "" for none
  std::string body_digest;       ///< of the request body (set with idempotency_key)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_request& x) {
  return f(caf::meta::type_name("batch_request"), x.tasks, x.timeout_ms, x.idempotency_key,
           x.body_digest);
}

} // namespace taskpipe

namespace taskpipe {

/// A task as the store holds it (the answer to GET /v1/tasks/{id}).
struct stored_task {
  std::int64_t id = 0;
  std::string type;
  std::string summary;
  std::int64_t version = 0;
  std::string updated_at;  ///< UTC, ISO 8601 with milliseconds: 2026-11-27T23:01:02.345Z
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_task& x) {
  return f(caf::meta::type_name("stored_task"), x.id, x.type, x.summary, x.version,
           x.updated_at);
}

/// Row counts of the store, for tests, benchmarks and the run summary.
struct store_counts {
  std::uint64_t tasks = 0;
  std::uint64_t audit_rows = 0;
  std::uint64_t applied_updates = 0;
  std::uint64_t outbox_rows = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_counts& x) {
  return f(caf::meta::type_name("store_counts"), x.tasks, x.audit_rows, x.applied_updates,
           x.outbox_rows);
}

/// The external name of a batch number, as used in reports, URLs and store keys: "b-" and 16
/// lowercase hex digits.
std::string batch_id_text(std::uint64_t batch);

/// Inverse of batch_id_text; false for anything else.
bool parse_batch_id(std::string_view text, std::uint64_t& out);

} // namespace taskpipe
