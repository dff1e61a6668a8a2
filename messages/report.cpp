#include "messages/report.hpp"

#include "messages/json_text.hpp"

#include <algorithm>

namespace taskpipe {

namespace {

bool by_id_then_position(const task_failure& x, const task_failure& y) {
  return x.id != y.id ? x.id < y.id : x.index < y.index;
}

/// The text between `"key":"` and the next unescaped quote, from `from` on in `text`.
std::string_view string_field(std::string_view text, std::string_view key) {
  auto pos = text.find(key);
  if (pos == std::string_view::npos)
    return {};
  auto start = pos + key.size();
  auto i = start;
  while (i < text.size() && text[i] != '"')
    i += text[i] == '\\' ? 2 : 1;
  return text.substr(start, std::min(i, text.size()) - start);
}

} // namespace

std::size_t finished_report::bytes() const {
  return sizeof(finished_report) + batch_id.capacity() + failures_json.capacity()
         + marks.capacity() * sizeof(failure_mark);
}

std::string_view finished_report::failures_text(std::size_t first, std::size_t last) const {
  if (first >= last || last > marks.size())
    return {};
  // Each object is preceded by a comma but the first.
  auto begin = first == 0 ? std::size_t{0} : static_cast<std::size_t>(marks[first - 1].end) + 1;
  auto end = static_cast<std::size_t>(marks[last - 1].end);
  return std::string_view{failures_json}.substr(begin, end - begin);
}

finished_report::page_range finished_report::page(std::int64_t after, std::size_t limit) const {
  page_range p;
  auto first = std::upper_bound(marks.begin(), marks.end(), after,
                                [](std::int64_t a, const failure_mark& m) { return a < m.id; });
  p.first = static_cast<std::size_t>(first - marks.begin());
  p.last = std::min(marks.size(), p.first + std::max<std::size_t>(limit, 1));
  while (p.last < marks.size() && p.last > p.first && marks[p.last].id == marks[p.last - 1].id)
    ++p.last;  // the rest of the last id's failures
  if (p.last < marks.size()) {
    p.more = true;
    p.next = marks[p.last - 1].id;
  }
  return p;
}

std::vector<task_failure> finished_report::failures(std::uint64_t batch) const {
  std::vector<task_failure> out;
  out.reserve(marks.size());
  for (std::size_t i = 0; i < marks.size(); ++i) {
    const auto& m = marks[i];
    auto object = failures_text(i, i + 1);
    out.push_back(task_failure{batch, m.index, m.id, m.where, m.code,
                               json_unescape(string_field(object, "\"reason\":\""))});
  }
  return out;
}

void append_failure_json(std::string& out, const task_failure& f) {
  out += "{\"id\":";
  out += std::to_string(f.id);
  out += ",\"stage\":";
  append_json_string(out, to_string(f.where));
  out += ",\"code\":";
  append_json_string(out, to_string(f.code));
  out += ",\"reason\":";
  append_json_string(out, f.reason);
  out += '}';
}

shared_report render_finished(batch_report r) {
  return render_finished(r, r.failures);
}

shared_report render_finished(const batch_report& r, std::vector<task_failure>& failures) {
  auto out = std::make_shared<finished_report>();
  out->batch_id = r.batch_id;
  out->state = r.state;
  out->total = r.total;
  out->succeeded = r.succeeded;
  out->failed = r.failed;
  out->elapsed_ms = r.elapsed_ms;
  out->finished_ms = r.finished_ms;
  if (!std::is_sorted(failures.begin(), failures.end(), by_id_then_position))
    std::sort(failures.begin(), failures.end(), by_id_then_position);
  std::size_t reasons = 0;
  for (const auto& f : failures)
    reasons += f.reason.size();
  auto& json = out->failures_json;
  json.reserve(failures.size() * 64 + reasons + reasons / 8);
  out->marks.reserve(failures.size());
  for (const auto& f : failures) {
    if (!json.empty())
      json += ',';
    append_failure_json(json, f);
    out->marks.push_back(failure_mark{f.id, json.size(), f.index, f.where, f.code});
  }
  json.shrink_to_fit();
  return shared_report{std::move(out)};
}

batch_report report_head(const finished_report& r) {
  batch_report head;
  head.batch_id = r.batch_id;
  head.state = r.state;
  head.total = r.total;
  head.succeeded = r.succeeded;
  head.failed = r.failed;
  head.pending = 0;
  head.elapsed_ms = r.elapsed_ms;
  head.finished_ms = r.finished_ms;
  return head;
}

} // namespace taskpipe
