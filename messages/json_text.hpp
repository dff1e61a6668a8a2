// JSON text primitives shared by everything that writes JSON by hand (no DOM): the HTTP front's
// bodies and the finished reports the coordinator renders once (messages/report.hpp).
#pragma once

#include <string>
#include <string_view>

namespace taskpipe {

/// Appends `text` as a JSON string literal. Escapes quotes, backslashes and control characters
/// (U+0000–U+001F, U+007F); bytes that are not valid UTF-8 become U+FFFD, so the output is always
/// valid UTF-8 whatever the input.
void append_json_string(std::string& out, std::string_view text);

/// Appends a finite number with at most 3 decimals in its shortest form (2003.4, 0.125, 7);
/// NaN and infinities become 0.
void append_json_number(std::string& out, double x);

/// Reads back a string literal append_json_string wrote (`text` without its quotes): undoes its
/// escapes. For tests and tools that check a rendered report.
std::string json_unescape(std::string_view text);

} // namespace taskpipe
