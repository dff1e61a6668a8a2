// The dashboard's snapshot as JSON (GET /v1/stats, and the data of each GET /v1/events event):
// written by hand like the other bodies; its schema is StatsSnapshot in api/openapi.json.
#pragma once

#include "actors/stats_snapshot.hpp"

#include <string>

namespace taskpipe::http {

std::string stats_json(const stats_snapshot& s);

} // namespace taskpipe::http
