#include "actors/stage_work.hpp"

#include <fmt/format.h>

namespace taskpipe {

namespace {

task_failure fail(const task_envelope& t, failure_code code, std::string reason) {
  return task_failure{t.batch, t.index, t.update.id, stage::validate, code, std::move(reason)};
}

/// Decodes one UTF-8 code point at `pos`; false on malformed input.
bool next_code_point(const std::string& s, std::size_t& pos, char32_t& cp) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto lead = byte(pos);
  std::size_t len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                    : (lead >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || pos + len > s.size())
    return false;
  cp = len == 1 ? lead : len == 2 ? (lead & 0x1F) : len == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (std::size_t i = 1; i < len; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80)
      return false;
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  static constexpr char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return false;
  pos += len;
  return true;
}

/// At most 64 bytes of `text` for a reason, cut at a code point boundary.
std::string shorten(const std::string& text) {
  if (text.size() <= 64)
    return text;
  std::size_t end = 64;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return text.substr(0, end) + "...";
}

caf::optional<std::string> summary_problem(const std::string& summary) {
  if (summary.empty())
    return std::string{"summary is empty"};
  std::size_t pos = 0;
  std::size_t count = 0;
  while (pos < summary.size()) {
    // Printable ASCII, nearly every byte of nearly every summary, is one character as it is.
    if (auto b = static_cast<unsigned char>(summary[pos]); b >= 0x20 && b < 0x7F) {
      ++pos;
      ++count;
      continue;
    }
    char32_t cp = 0;
    if (!next_code_point(summary, pos, cp))
      return fmt::format("summary is not valid UTF-8 (byte {})", pos);
    ++count;
    if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F))
      return fmt::format("summary holds a control character (U+{:04X}) at character {}",
                         static_cast<std::uint32_t>(cp), count);
  }
  if (count > max_summary_code_points)
    return fmt::format("summary has {} characters; at most {} are allowed", count,
                       max_summary_code_points);
  return caf::none;
}

} // namespace

caf::optional<task_failure> check_request(const task_envelope& t) {
  const auto& u = t.update;
  if (t.duplicate)
    return fail(t, failure_code::duplicate_in_batch,
                fmt::format("task {} appeared earlier in this batch", u.id));
  if (!u.type && !u.summary)
    return fail(t, failure_code::empty_update,
                fmt::format("task {}: neither type nor summary given", u.id));
  task_type parsed;
  if (u.type && !from_string(*u.type, parsed))
    return fail(t, failure_code::invalid_type,
                fmt::format("type \"{}\" is not one of Epic, Story, SubTask, TechTask",
                            shorten(*u.type)));
  if (u.summary)
    if (auto problem = summary_problem(*u.summary))
      return fail(t, failure_code::invalid_summary, std::move(*problem));
  return caf::none;
}

} // namespace taskpipe
