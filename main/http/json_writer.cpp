#include "main/http/json_writer.hpp"

#include <cstdint>

namespace taskpipe::http {

namespace {

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

/// The failures of `r` after `head`: shared from its rendered report (one is rendered for a
/// report that has none yet, e.g. a test's), then the closing `]}`.
json_parts with_failures(std::string head, const batch_report& r) {
  json_parts out;
  out.head = std::move(head);
  out.head += ",\"failures\":[";
  out.owner = r.finished ? r.finished : render_finished(r);
  out.shared = out.owner->failures_text(0, out.owner->marks.size());
  out.tail = "]}";
  return out;
}

} // namespace

std::string error_json(std::string_view code, std::string_view detail) {
  std::string out = "{\"error\":";
  append_json_string(out, code);
  out += ",\"detail\":";
  append_json_string(out, detail);
  out += '}';
  return out;
}

std::string json_parts::joined() const {
  std::string out;
  out.reserve(size());
  out += head;
  out += shared;
  out += tail;
  return out;
}

json_parts report_json(const batch_report& r) {
  std::string head;
  append_head(head, r);
  head += ",\"elapsed_ms\":";
  append_json_number(head, r.elapsed_ms);
  return with_failures(std::move(head), r);
}

json_parts status_json(const batch_report& r) {
  std::string head;
  append_head(head, r);
  head += ",\"pending\":";
  head += std::to_string(r.pending);
  head += ",\"elapsed_ms\":";
  append_json_number(head, r.elapsed_ms);
  if (r.pending == 0)
    return with_failures(std::move(head), r);
  head += '}';
  json_parts out;
  out.head = std::move(head);
  return out;
}

json_parts failures_json(const failure_page& p) {
  json_parts out;
  out.head = "{\"batch_id\":";
  append_json_string(out.head, p.batch_id);
  out.head += ",\"failures\":[";
  if (p.report) {
    out.owner = p.report;
    out.shared = p.report->failures_text(p.first, p.last);
  } else {
    for (std::size_t i = 0; i < p.failures.size(); ++i) {
      if (i > 0)
        out.head += ',';
      append_failure_json(out.head, p.failures[i]);
    }
  }
  out.tail = "],\"next\":";
  out.tail += p.more ? std::to_string(p.next) : std::string{"null"};
  out.tail += '}';
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
