// Batch reports: a batch's status (batch_report), a finished batch's report rendered once and
// shared by every reader (finished_report, shared_report), and pages of its failures
// (failure_page).
#pragma once

#include "messages/outcome.hpp"

#include <caf/meta/type_name.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace taskpipe {

/// One failure's place in a finished report's rendered list.
struct failure_mark {
  std::int64_t id = 0;      ///< task id
  std::uint64_t end = 0;    ///< where its JSON object ends in finished_report::failures_json
  std::uint32_t index = 0;  ///< its position in the batch
  stage where = stage::pipeline;
  failure_code code = failure_code::internal;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failure_mark& x) {
  return f(caf::meta::type_name("failure_mark"), x.id, x.end, x.index, x.where, x.code);
}

/// A finished batch's report, rendered once (render_finished) and never changed: readers share
/// it through a shared_report, so a GET copies a pointer, not the failure list. Its failures are
/// kept only as JSON (with a small mark per failure to find pages and count codes).
struct finished_report {
  std::string batch_id;
  batch_state state = batch_state::done;
  std::uint64_t total = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  double elapsed_ms = 0;
  std::int64_t finished_ms = 0;  ///< Unix milliseconds
  /// The failures array's objects, comma-separated, sorted by task id, then position.
  std::string failures_json;
  std::vector<failure_mark> marks;  ///< per failure, in the same order

  /// The memory this report holds (what a cache of reports counts).
  std::size_t bytes() const;

  /// The JSON objects of failures [first, last), comma-separated ("" when first == last).
  std::string_view failures_text(std::size_t first, std::size_t last) const;

  /// The failures a page after task id `after` holds: [first, last); see failure_page.
  struct page_range {
    std::size_t first = 0;
    std::size_t last = 0;
    bool more = false;      ///< failures follow the page
    std::int64_t next = 0;  ///< then: the page's last task id (the next page's `after`)
  };
  page_range page(std::int64_t after, std::size_t limit) const;

  /// The failures read back from failures_json (for tests and the in-process `run`).
  std::vector<task_failure> failures(std::uint64_t batch) const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, finished_report& x) {
  return f(caf::meta::type_name("finished_report"), x.batch_id, x.state, x.total, x.succeeded,
           x.failed, x.elapsed_ms, x.finished_ms, x.failures_json, x.marks);
}

/// A finished report as a message field. Local messages copy the pointer; a message that
/// crosses nodes carries the report itself and the receiver shares the copy it rebuilt.
struct shared_report {
  std::shared_ptr<const finished_report> ptr;

  explicit operator bool() const {
    return static_cast<bool>(ptr);
  }
  const finished_report* operator->() const {
    return ptr.get();
  }
  const finished_report& operator*() const {
    return *ptr;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_report& x) {
  if constexpr (Inspector::reads_state) {
    // Serializing only reads the report: no copy of it is made.
    bool has = static_cast<bool>(x.ptr);
    static const finished_report none;
    auto& report = const_cast<finished_report&>(has ? *x.ptr : none);
    return f(caf::meta::type_name("shared_report"), has, report);
  } else {
    bool has = false;
    finished_report report;
    auto result = f(caf::meta::type_name("shared_report"), has, report);
    x.ptr = has ? std::make_shared<const finished_report>(std::move(report)) : nullptr;
    return result;
  }
}

/// A batch's status; with `pending == 0` it is the final report. The coordinator answers a
/// finished batch with `finished` set (its failures are there, rendered) and `failures` empty;
/// the store's finished_report() fills `failures` instead (the coordinator renders them).
struct batch_report {
  std::string batch_id;
  batch_state state = batch_state::running;
  std::uint64_t total = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t pending = 0;
  double elapsed_ms = 0;
  std::vector<task_failure> failures;  ///< sorted by id, then position (see above)
  std::int64_t finished_ms = 0;        ///< Unix milliseconds once finished; 0 while running
  shared_report finished;              ///< the rendered report once finished (see above)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_report& x) {
  return f(caf::meta::type_name("batch_report"), x.batch_id, x.state, x.total, x.succeeded,
           x.failed, x.pending, x.elapsed_ms, x.failures, x.finished_ms, x.finished);
}

/// Renders the report of a finished batch: `r` with its failures (sorted here; consumed).
shared_report render_finished(batch_report r);

/// Renders the report of a finished batch from its head (`head.failures` is ignored) and its
/// failures, which are sorted in place (by id, then position) and left for the caller.
shared_report render_finished(const batch_report& head, std::vector<task_failure>& failures);

/// The status of a finished batch without its failures (for answers that carry `finished`).
batch_report report_head(const finished_report& r);

/// Appends one failure as the report's JSON object: {"id","stage","code","reason"}.
void append_failure_json(std::string& out, const task_failure& f);

/// A page of a finished batch's failures (GET /v1/batches/{id}/failures): sorted by task id, then
/// position, those with task id > `after`: `limit` of them, plus any further failures of the
/// page's last task id (a page never splits the failures of one id, which a batch that repeats
/// an id can have several of).
struct failure_page {
  std::string batch_id;
  /// Set: the page is report's failures [first, last) (shared, not copied). Else `failures`.
  shared_report report;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::vector<task_failure> failures;
  bool more = false;      ///< failures follow this page
  std::int64_t next = 0;  ///< then: the page's last task id, the next page's `after`
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failure_page& x) {
  return f(caf::meta::type_name("failure_page"), x.batch_id, x.report, x.first, x.last,
           x.failures, x.more, x.next);
}

/// Most failures a page may ask for, and what it gets when it asks for no number.
inline constexpr std::size_t max_failure_page = 10'000;
inline constexpr std::size_t default_failure_page = 1'000;

} // namespace taskpipe
