// api/openapi.json compiled into the binary, for GET /v1/openapi.json (the file in the repository
// is the one source; the build embeds it, the tests lint it and validate responses against it).
#pragma once

#include <string_view>

namespace taskpipe {

/// The OpenAPI 3.1 description of the HTTP API, as api/openapi.json holds it.
std::string_view openapi_document();

} // namespace taskpipe
