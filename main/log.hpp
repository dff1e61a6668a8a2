// The node's log: one event per line on stderr, as text or as JSON lines (`--log-level`,
// `--log-format`). Debian's CAF has its own logger compiled out, so this is ours. Events are rare
// by design (start-up, peers, drain, one line per HTTP request), never one per task, so a line is
// formatted on the caller's thread and written with one write(2): no lock, no logging thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace taskpipe::log {

enum class level : std::uint8_t { error, warn, info, debug };
enum class format : std::uint8_t { text, json };

std::string_view to_string(level x);

/// "error", "warn", "info", "debug" / "text", "json"; false for anything else.
bool parse_level(std::string_view text, level& out);
bool parse_format(std::string_view text, format& out);

/// Sets the threshold and the format for the whole process (default: info, text).
void configure(level threshold, format fmt);

/// Whether events of `x` are written.
bool enabled(level x);

/// One `key=value` of an event: text, a whole number, a real number or a boolean.
struct field {
  enum class kind : std::uint8_t { text, int64, uint64, real, boolean };

  field(std::string_view k, std::string_view v) : key(k), type(kind::text), text(v) {
  }
  field(std::string_view k, const std::string& v) : field(k, std::string_view{v}) {
  }
  field(std::string_view k, const char* v) : field(k, std::string_view{v}) {
  }
  field(std::string_view k, bool v) : key(k), type(kind::boolean), boolean(v) {
  }
  field(std::string_view k, double v) : key(k), type(kind::real), real(v) {
  }
  template <class T, class = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  field(std::string_view k, T v) : key(k) {
    if constexpr (std::is_signed_v<T>) {
      type = kind::int64;
      int64 = v;
    } else {
      type = kind::uint64;
      uint64 = v;
    }
  }

  std::string_view key;
  kind type = kind::text;
  std::string_view text;
  std::int64_t int64 = 0;
  std::uint64_t uint64 = 0;
  double real = 0;
  bool boolean = false;
};

using fields = std::initializer_list<field>;

/// The line (with its newline) that an event becomes. Text:
///   2026-11-28T10:00:00.123Z info  http: POST /v1/batches 200 status=200 bytes=95
/// JSON: {"ts":"2026-11-28T10:00:00.123Z","level":"info","component":"http","msg":"...",...}
/// Bytes that are not UTF-8 become U+FFFD; control characters are escaped, so an event is always
/// exactly one line.
std::string format_line(format fmt, level lvl, std::chrono::system_clock::time_point at,
                        std::string_view component, std::string_view msg, fields extra);

/// Writes one event to stderr if `lvl` is enabled.
void write(level lvl, std::string_view component, std::string_view msg, fields extra = {});

inline void error(std::string_view component, std::string_view msg, fields extra = {}) {
  write(level::error, component, msg, extra);
}
inline void warn(std::string_view component, std::string_view msg, fields extra = {}) {
  write(level::warn, component, msg, extra);
}
inline void info(std::string_view component, std::string_view msg, fields extra = {}) {
  write(level::info, component, msg, extra);
}
inline void debug(std::string_view component, std::string_view msg, fields extra = {}) {
  write(level::debug, component, msg, extra);
}

} // namespace taskpipe::log
