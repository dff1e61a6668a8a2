// JSON bodies of the HTTP API, written by hand (no DOM): reports, statuses, tasks and errors.
#pragma once

#include "messages/json_text.hpp"
#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "messages/task.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace taskpipe::http {

// The JSON primitives live in messages/json_text.hpp (the coordinator renders reports with them).
using taskpipe::append_json_number;
using taskpipe::append_json_string;

/// A JSON body in three parts. The middle is the text of a finished report every reader shares
/// (`owner` keeps it alive): a large report is written from the one rendered copy, never copied
/// per request.
struct json_parts {
  std::string head;
  shared_report owner;
  std::string_view shared;
  std::string tail;

  std::size_t size() const {
    return head.size() + shared.size() + tail.size();
  }
  /// The whole body as one string (tests).
  std::string joined() const;
};

/// `{"error":"<code>","detail":"<detail>"}`
std::string error_json(std::string_view code, std::string_view detail);

/// The batch report of POST /v1/batches?wait=true:
/// {"batch_id","state","total","succeeded","failed","elapsed_ms","failures":[...]}, failures
/// sorted by id (then position), from r.finished (rendered from r.failures when it has none).
json_parts report_json(const batch_report& r);

/// The status of GET/DELETE /v1/batches/{id}:
/// {"batch_id","state","total","succeeded","failed","pending","elapsed_ms"}, plus "failures" once
/// pending is 0.
json_parts status_json(const batch_report& r);

/// GET /v1/batches/{id}/failures: {"batch_id","failures":[...],"next":ID|null}.
json_parts failures_json(const failure_page& p);

/// The answer of POST /v1/batches?wait=false: {"batch_id","status_url"}.
std::string accepted_json(const std::string& batch_id);

/// GET /v1/tasks/{id}: {"id","type","summary","version","updated_at"}.
std::string task_json(const stored_task& t);

/// The status URL of a batch: /v1/batches/<id>.
std::string batch_url(const std::string& batch_id);

} // namespace taskpipe::http
