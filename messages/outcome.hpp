// Outcomes: per-task failures and per-batch reports.
#pragma once

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/meta/type_name.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

// The lists below are the one place to add a stage or a code: enums, names (the contract's words,
// from the identifiers), counts and the all_* arrays follow from them.

/// The four stages, in pipeline order.
#define TASKPIPE_STAGES(X) X(validate) X(audit) X(update) X(notify)

/// The contract's per-task failure codes.
#define TASKPIPE_FAILURE_CODES(X)                                                                  \
  X(not_found) X(empty_update) X(invalid_type) X(invalid_summary) X(duplicate_in_batch)           \
  X(storage_error) X(timeout) X(cancelled) X(node_lost) X(internal)

#define TASKPIPE_ENUMERATOR(name) name,
#define TASKPIPE_ENUMERATOR_NAME(name) #name,
#define TASKPIPE_QUALIFIED_STAGE(name) stage::name,

/// Where a task was when it failed: one of the stages, or `pipeline` (between stages).
enum class stage : std::uint8_t { TASKPIPE_STAGES(TASKPIPE_ENUMERATOR) pipeline };

/// The stages proper (without `pipeline`), in pipeline order.
inline constexpr stage all_stages[] = {TASKPIPE_STAGES(TASKPIPE_QUALIFIED_STAGE)};
inline constexpr std::size_t stage_count = std::size(all_stages);
/// Every value of `stage`, `pipeline` included (e.g. slots of per-stage counters).
inline constexpr std::size_t stage_slot_count = stage_count + 1;

std::string to_string(stage x);
bool from_string(std::string_view text, stage& out);

enum class failure_code : std::uint8_t { TASKPIPE_FAILURE_CODES(TASKPIPE_ENUMERATOR) };

inline constexpr std::string_view failure_code_names[] = {
  TASKPIPE_FAILURE_CODES(TASKPIPE_ENUMERATOR_NAME)};
inline constexpr std::size_t failure_code_count = std::size(failure_code_names);

std::string to_string(failure_code x);
bool from_string(std::string_view text, failure_code& out);

struct task_failure {
  std::uint64_t batch = 0;
  std::uint32_t index = 0;
  std::int64_t id = 0;
  stage where = stage::pipeline;
  failure_code code = failure_code::internal;
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_failure& x) {
  return f(caf::meta::type_name("task_failure"), x.batch, x.index, x.id, x.where, x.code,
           x.reason);
}

struct failure_chunk {
  std::vector<task_failure> failures;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failure_chunk& x) {
  return f(caf::meta::type_name("failure_chunk"), x.failures);
}

enum class batch_state : std::uint8_t { running, done, cancelled };

std::string to_string(batch_state x);

// batch_report (a batch's status and report) is in messages/report.hpp.

/// Failure counts of the whole node by stage and code (the failure aggregator's view).
struct failure_counts {
  std::vector<std::uint64_t> by_stage_and_code;  ///< [stage * failure_code_count + code]

  /// The slot of (`where`, `code`) in by_stage_and_code.
  static std::size_t slot(stage where, failure_code code) {
    return static_cast<std::size_t>(where) * failure_code_count + static_cast<std::size_t>(code);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failure_counts& x) {
  return f(caf::meta::type_name("failure_counts"), x.by_stage_and_code);
}

/// Why the coordinator refused a request: a caf::error code enum of category "taskpipe"
/// (caf::make_error(refusal::overloaded, "detail"); the detail travels as the error's context).
/// Codes start at 1: CAF reads code 0 as "no error".
enum class refusal : std::uint8_t {
  shutting_down = 1,
  overloaded,
  batch_too_large,
  unknown_batch,
  idempotency_key_reused,  ///< the Idempotency-Key names a batch of another body
};

std::string to_string(refusal x);

/// The refusal carried by `err`, if it is one of ours.
bool as_refusal(const caf::error& err, refusal& out);

} // namespace taskpipe

CAF_ERROR_CODE_ENUM(taskpipe::refusal, "taskpipe")
