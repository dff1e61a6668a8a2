#include "main/log.hpp"

#include "messages/json_text.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <unistd.h>

namespace taskpipe::log {

namespace {

std::atomic<level> threshold{level::info};
std::atomic<format> output_format{format::text};

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

/// Text format: control characters escaped, so that an event stays on one line.
void append_text(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    auto n = utf8_sequence(s, i);
    if (n == 0) {
      out += replacement;
      ++i;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (n == 1 && (c < 0x20 || c == 0x7F)) {
      if (c == '\n')
        out += "\\n";
      else if (c == '\t')
        out += "\\t";
      else
        out += fmt::format("\\x{:02x}", c);
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
}

/// A text value is quoted when it would not read back as one word.
void append_text_value(std::string& out, std::string_view s) {
  bool quote = s.empty() || s.find_first_of(" \"=") != std::string_view::npos;
  if (!quote) {
    append_text(out, s);
    return;
  }
  out += '"';
  std::string inner;
  append_text(inner, s);
  for (char c : inner) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
}

std::string number(const field& f) {
  switch (f.type) {
    case field::kind::int64: return fmt::format("{}", f.int64);
    case field::kind::uint64: return fmt::format("{}", f.uint64);
    case field::kind::real: return fmt::format("{:.3f}", f.real);
    case field::kind::boolean: return f.boolean ? "true" : "false";
    case field::kind::text: break;
  }
  return {};
}

std::string timestamp(std::chrono::system_clock::time_point at) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(at.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  if (ms % 1000 < 0)
    --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ((ms % 1000) + 1000) % 1000);
}

} // namespace

std::string_view to_string(level x) {
  switch (x) {
    case level::error: return "error";
    case level::warn: return "warn";
    case level::info: return "info";
    case level::debug: return "debug";
  }
  return "info";
}

bool parse_level(std::string_view text, level& out) {
  for (auto x : {level::error, level::warn, level::info, level::debug})
    if (text == to_string(x)) {
      out = x;
      return true;
    }
  return false;
}

bool parse_format(std::string_view text, format& out) {
  if (text == "text")
    out = format::text;
  else if (text == "json")
    out = format::json;
  else
    return false;
  return true;
}

void configure(level t, format f) {
  threshold.store(t, std::memory_order_relaxed);
  output_format.store(f, std::memory_order_relaxed);
}

bool enabled(level x) {
  return static_cast<int>(x) <= static_cast<int>(threshold.load(std::memory_order_relaxed));
}

std::string format_line(format fmt, level lvl, std::chrono::system_clock::time_point at,
                        std::string_view component, std::string_view msg, fields extra) {
  std::string out;
  out.reserve(128 + msg.size());
  if (fmt == format::json) {
    out += "{\"ts\":\"" + timestamp(at) + "\",\"level\":\"";
    out += to_string(lvl);
    out += "\",\"component\":";
    append_json_string(out, component);
    out += ",\"msg\":";
    append_json_string(out, msg);
    for (const auto& f : extra) {
      out += ',';
      append_json_string(out, f.key);
      out += ':';
      if (f.type == field::kind::text)
        append_json_string(out, f.text);
      else
        out += number(f);
    }
    out += "}\n";
    return out;
  }
  out += timestamp(at);
  out += ' ';
  auto name = to_string(lvl);
  out += name;
  out.append(6 - name.size(), ' ');
  append_text(out, component);
  out += ": ";
  append_text(out, msg);
  for (const auto& f : extra) {
    out += ' ';
    append_text(out, f.key);
    out += '=';
    if (f.type == field::kind::text)
      append_text_value(out, f.text);
    else
      out += number(f);
  }
  out += '\n';
  return out;
}

void write(level lvl, std::string_view component, std::string_view msg, fields extra) {
  if (!enabled(lvl))
    return;
  auto line = format_line(output_format.load(std::memory_order_relaxed), lvl,
                          std::chrono::system_clock::now(), component, msg, extra);
  // One write per line: lines from different threads never interleave (below PIPE_BUF on pipes).
  std::string_view rest = line;
  while (!rest.empty()) {
    auto n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return;  // stderr closed: nowhere to report it
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

} // namespace taskpipe::log
