// Records what the HTTP tests receive, for tests/api: with TASKPIPE_HTTP_RECORD_DIR set, every
// response is appended as one JSON line {"method","target","status","headers","body"} to
// DIR/<pid>.jsonl, and api.validate_responses checks each against api/openapi.json.
#pragma once

#include "support/http_client.hpp"

namespace taskpipe::test {

/// Appends one exchange (nothing when the variable is unset or there was no response).
void record_exchange(const http_request& req, const http_response& res);

} // namespace taskpipe::test
