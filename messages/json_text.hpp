// JSON text primitives shared by everything that writes JSON by hand (no DOM): the HTTP front's
// bodies, the finished reports the coordinator renders once (messages/report.hpp) and the log's
// JSON lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace taskpipe {

/// Appends `text` as a JSON string literal. Escapes quotes, backslashes and control characters
/// (U+0000–U+001F, U+007F); bytes that are not valid UTF-8 become U+FFFD, so the output is always
/// valid UTF-8 whatever the input.
void append_json_string(std::string& out, std::string_view text);

/// Length of the valid UTF-8 sequence at text[i], or 0 if there is none (overlong forms,
/// surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(std::string_view text, std::size_t i);

/// Appends a finite number with at most 3 decimals in its shortest form (2003.4, 0.125, 7);
/// NaN and infinities become 0.
void append_json_number(std::string& out, double x);

/// Reads back a string literal append_json_string wrote (`text` without its quotes): undoes its
/// escapes. For tests and tools that check a rendered report.
std::string json_unescape(std::string_view text);

} // namespace taskpipe
