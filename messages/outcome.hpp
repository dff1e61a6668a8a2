// Outcomes: per-task failures and per-batch reports.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

/// Where a task was when it failed; `pipeline` is between stages.
enum class stage : std::uint8_t { validate, audit, update, notify, pipeline };

inline constexpr stage all_stages[] = {stage::validate, stage::audit, stage::update, stage::notify};

std::string to_string(stage x);
bool from_string(std::string_view text, stage& out);

/// The contract's per-task failure codes.
enum class failure_code : std::uint8_t {
  not_found,
  empty_update,
  invalid_type,
  invalid_summary,
  duplicate_in_batch,
  storage_error,
  timeout,
  cancelled,
  node_lost,
  internal,
};

inline constexpr std::size_t failure_code_count = 10;

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

/// A batch's status; with `pending == 0` it is the final report.
struct batch_report {
  std::string batch_id;
  batch_state state = batch_state::running;
  std::uint64_t total = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t pending = 0;
  double elapsed_ms = 0;
  std::vector<task_failure> failures;  ///< sorted by id, then position; filled once pending is 0
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_report& x) {
  return f(caf::meta::type_name("batch_report"), x.batch_id, x.state, x.total, x.succeeded,
           x.failed, x.pending, x.elapsed_ms, x.failures);
}

/// Failure counts of the whole node by stage and code (the failure aggregator's view).
struct failure_counts {
  std::vector<std::uint64_t> by_stage_and_code;  ///< [stage * failure_code_count + code]
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failure_counts& x) {
  return f(caf::meta::type_name("failure_counts"), x.by_stage_and_code);
}

/// Why the coordinator refused a batch (carried in a caf::error of category "taskpipe").
enum class refusal : std::uint8_t {
  shutting_down = 1,
  overloaded,
  batch_too_large,
  unknown_batch,
};

std::string to_string(refusal x);

} // namespace taskpipe
