// Small helpers over request text (header values, paths, queries): no allocation beyond the
// result, no I/O. Shared by the router and the handlers.
#pragma once

#include <boost/beast/core/string.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace taskpipe::http {

/// Beast's string_view as std::string_view.
inline std::string_view sv(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

/// Client text quoted in an error detail, cut after 200 characters ("...").
std::string quoted(std::string_view text);

/// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

/// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);

/// Compares in time that depends only on the expected token's length, never on where they differ.
bool constant_time_equal(std::string_view given, std::string_view expected);

/// Whether an Authorization header value is "Bearer <token>" (scheme case-insensitive, RFC 7235).
bool bearer_token_matches(std::string_view header, std::string_view token);

/// Decodes %XX escapes and '+' (space) of a query name or value; false on a bad escape.
bool percent_decode(std::string_view in, std::string& out);

/// A task id of a path: an integer from 1 to 2^63-1 without sign or leading zeros.
bool parse_task_id(std::string_view text, std::int64_t& out);

} // namespace taskpipe::http
