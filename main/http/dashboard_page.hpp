// GET /: the dashboard page (main/http/dashboard/, embedded at build time). One HTML document with
// its style and ES module inline, allowed by a strict Content-Security-Policy that names their
// SHA-256 hashes; it loads nothing else and talks only to this node (/v1/events, /v1/batches/{id}).
#pragma once

#include "main/http/responses.hpp"

#include <string>
#include <string_view>

namespace taskpipe::http {

namespace dashboard_assets {
std::string_view html();
std::string_view script_sha256_hex();
std::string_view style_sha256_hex();
} // namespace dashboard_assets

/// The Content-Security-Policy of the page.
const std::string& dashboard_csp();

/// The page with its security headers. With a token configured and missing from the request, the
/// same page is the body of the 401 (the browser cannot send a bearer header when it navigates):
/// it holds no data, and shows its login form once /v1/events answers 401.
response dashboard_page(bhttp::status status = bhttp::status::ok);

} // namespace taskpipe::http
