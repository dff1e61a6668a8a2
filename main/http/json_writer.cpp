#include "main/http/json_writer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

namespace taskpipe::http {

namespace {

/// Length of the valid UTF-8 sequence at text[i], or 0 if there is none (overlong forms,
/// surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  auto cont = [&](std::size_t k) { return k < text.size() && (byte(k) & 0xC0) == 0x80; };
  auto c = byte(i);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2))
      return 0;
    auto c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0)
      return 0;  // overlong
    if (c == 0xED && c1 >= 0xA0)
      return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3))
      return 0;
    auto c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90)
      return 0;  // overlong
    if (c == 0xF4 && c1 >= 0x90)
      return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void append_failures(std::string& out, const std::vector<task_failure>& failures) {
  std::vector<const task_failure*> sorted;
  sorted.reserve(failures.size());
  for (auto& f : failures)
    sorted.push_back(&f);
  std::stable_sort(sorted.begin(), sorted.end(), [](const task_failure* a, const task_failure* b) {
    return a->id != b->id ? a->id < b->id : a->index < b->index;
  });
  out += "\"failures\":[";
  bool first = true;
  for (auto* f : sorted) {
    if (!first)
      out += ',';
    first = false;
    out += "{\"id\":";
    out += std::to_string(f->id);
    out += ",\"stage\":";
    append_json_string(out, to_string(f->where));
    out += ",\"code\":";
    append_json_string(out, to_string(f->code));
    out += ",\"reason\":";
    append_json_string(out, f->reason);
    out += '}';
  }
  out += ']';
}

void append_head(std::string& out, const batch_report& r) {
  out += "{\"batch_id\":";
  append_json_string(out, r.batch_id);
  out += ",\"state\":";
  append_json_string(out, to_string(r.state));
  out += ",\"total\":";
  out += std::to_string(r.total);
  out += ",\"succeeded\":";
  out += std::to_string(r.succeeded);
  out += ",\"failed\":";
  out += std::to_string(r.failed);
}

} // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; };
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (plain(c)) {  // a run of characters that need no escape, appended at once
      auto start = i;
      while (i < text.size() && plain(static_cast<unsigned char>(text[i])))
        ++i;
      out.append(text.data() + start, i - start);
      continue;
    }
    if (c >= 0x80) {
      auto len = utf8_sequence(text, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void append_json_number(std::string& out, double x) {
  if (!std::isfinite(x)) {
    out += '0';
    return;
  }
  double rounded = std::round(x * 1000.0) / 1000.0;
  if (rounded == 0)
    rounded = 0;  // no "-0"
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), rounded);
  out.append(buf, res.ptr);
}

std::string error_json(std::string_view code, std::string_view detail) {
  std::string out = "{\"error\":";
  append_json_string(out, code);
  out += ",\"detail\":";
  append_json_string(out, detail);
  out += '}';
  return out;
}

std::string report_json(const batch_report& r) {
  std::string out;
  out.reserve(160 + r.failures.size() * 96);
  append_head(out, r);
  out += ",\"elapsed_ms\":";
  append_json_number(out, r.elapsed_ms);
  out += ',';
  append_failures(out, r.failures);
  out += '}';
  return out;
}

std::string status_json(const batch_report& r) {
  std::string out;
  out.reserve(160 + r.failures.size() * 96);
  append_head(out, r);
  out += ",\"pending\":";
  out += std::to_string(r.pending);
  out += ",\"elapsed_ms\":";
  append_json_number(out, r.elapsed_ms);
  if (r.pending == 0) {
    out += ',';
    append_failures(out, r.failures);
  }
  out += '}';
  return out;
}

std::string batch_url(const std::string& batch_id) {
  return "/v1/batches/" + batch_id;
}

std::string accepted_json(const std::string& batch_id) {
  std::string out = "{\"batch_id\":";
  append_json_string(out, batch_id);
  out += ",\"status_url\":";
  append_json_string(out, batch_url(batch_id));
  out += '}';
  return out;
}

std::string task_json(const stored_task& t) {
  std::string out = "{\"id\":";
  out += std::to_string(t.id);
  out += ",\"type\":";
  append_json_string(out, t.type);
  out += ",\"summary\":";
  append_json_string(out, t.summary);
  out += ",\"version\":";
  out += std::to_string(t.version);
  out += ",\"updated_at\":";
  append_json_string(out, t.updated_at);
  out += '}';
  return out;
}

} // namespace taskpipe::http
