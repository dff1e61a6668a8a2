// JSON bodies of the HTTP API, written by hand (no DOM): reports, statuses, tasks and errors.
#pragma once

#include "messages/outcome.hpp"
#include "messages/report.hpp"
#include "messages/task.hpp"

#include <string>
#include <string_view>

namespace taskpipe::http {

/// Appends `text` as a JSON string literal. Escapes quotes, backslashes and control characters
/// (U+0000–U+001F, U+007F); bytes that are not valid UTF-8 become U+FFFD, so the output is always
/// valid UTF-8 whatever the input.
void append_json_string(std::string& out, std::string_view text);

/// Appends a finite number with at most 3 decimals in its shortest form (2003.4, 0.125, 7);
/// NaN and infinities become 0.
void append_json_number(std::string& out, double x);

/// `{"error":"<code>","detail":"<detail>"}`
std::string error_json(std::string_view code, std::string_view detail);

/// The batch report of POST /v1/batches?wait=true:
/// {"batch_id","state","total","succeeded","failed","elapsed_ms","failures":[...]}, failures
/// sorted by id (then position).
std::string report_json(const batch_report& r);

/// The status of GET/DELETE /v1/batches/{id}:
/// {"batch_id","state","total","succeeded","failed","pending","elapsed_ms"}, plus "failures" once
/// pending is 0.
std::string status_json(const batch_report& r);

/// The answer of POST /v1/batches?wait=false: {"batch_id","status_url"}.
std::string accepted_json(const std::string& batch_id);

/// GET /v1/tasks/{id}: {"id","type","summary","version","updated_at"}.
std::string task_json(const stored_task& t);

/// The status URL of a batch: /v1/batches/<id>.
std::string batch_url(const std::string& batch_id);

} // namespace taskpipe::http
