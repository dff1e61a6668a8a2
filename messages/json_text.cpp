#include "messages/json_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace taskpipe {

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

std::string json_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char c = text[++i];
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {  // \u00XX: the only \u escapes append_json_string writes
        unsigned value = 0;
        if (i + 4 < text.size())
          std::from_chars(text.data() + i + 1, text.data() + i + 5, value, 16);
        out += static_cast<char>(value);
        i += 4;
        break;
      }
      default:
        out += c;  // \" and \\ .
    }
  }
  return out;
}

} // namespace taskpipe
