#include "main/http/request_text.hpp"

#include <algorithm>
#include <charconv>

namespace taskpipe::http {

std::string quoted(std::string_view text) {
  constexpr std::size_t max_chars = 200;
  std::string out = "\"";
  out.append(text.substr(0, max_chars));
  if (text.size() > max_chars)
    out += "...";
  out += '"';
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool constant_time_equal(std::string_view given, std::string_view expected) {
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

bool bearer_token_matches(std::string_view header, std::string_view token) {
  constexpr std::string_view scheme = "bearer";
  header = trim(header);
  if (header.size() <= scheme.size() || !iequals(header.substr(0, scheme.size()), scheme)
      || (header[scheme.size()] != ' ' && header[scheme.size()] != '\t'))
    return false;
  return constant_time_equal(trim(header.substr(scheme.size())), token);
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size())
        return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (in[i] == '+') {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return true;
}

bool parse_task_id(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.size() > 19 || text.front() == '0')
    return false;
  std::int64_t value = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), value);
  if (res.ec != std::errc{} || res.ptr != text.data() + text.size() || value < 1)
    return false;
  out = value;
  return true;
}

} // namespace taskpipe::http
