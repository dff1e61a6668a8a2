#include "main/http/metrics_text.hpp"

#include <charconv>
#include <string_view>

namespace taskpipe::http {

namespace {

void append_double(std::string& out, double x) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, res.ptr);
}

void append_u64(std::string& out, std::uint64_t x) {
  out += std::to_string(x);
}

std::uint64_t load(const std::atomic<std::uint64_t>& x) {
  return x.load(std::memory_order_relaxed);
}

void header(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

} // namespace

std::string render_metrics(const pipeline_metrics* pm, const http_counters* front) {
  std::string out;
  out.reserve(8192);
  if (pm != nullptr) {
    header(out, "taskpipe_tasks_total", "counter",
           "Tasks that left a stage, by stage and outcome (stage=\"pipeline\": failed between "
           "stages).");
    for (auto where : all_stages) {
      auto& s = pm->stages[static_cast<std::size_t>(where)];
      auto name = to_string(where);
      out += "taskpipe_tasks_total{stage=\"" + name + "\",outcome=\"succeeded\"} ";
      append_u64(out, load(s.succeeded));
      out += "\ntaskpipe_tasks_total{stage=\"" + name + "\",outcome=\"failed\"} ";
      append_u64(out, load(s.failed));
      out += '\n';
    }
    out += "taskpipe_tasks_total{stage=\"pipeline\",outcome=\"failed\"} ";
    append_u64(out, load(pm->pipeline_failed));
    out += '\n';

    header(out, "taskpipe_stage_latency_seconds", "histogram",
           "Time a task spent in a stage, by stage.");
    for (auto where : all_stages) {
      auto& s = pm->stages[static_cast<std::size_t>(where)];
      auto name = to_string(where);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < pipeline_metrics::latency_bounds.size(); ++i) {
        cumulative += load(s.latency_buckets[i]);
        out += "taskpipe_stage_latency_seconds_bucket{stage=\"" + name + "\",le=\"";
        append_double(out, pipeline_metrics::latency_bounds[i]);
        out += "\"} ";
        append_u64(out, cumulative);
        out += '\n';
      }
      cumulative += load(s.latency_buckets[pipeline_metrics::latency_bounds.size()]);
      // +Inf must equal _count; read count after the buckets and report the larger so a
      // concurrent update never makes the histogram look inconsistent the other way round.
      auto count = load(s.latency_count);
      if (count < cumulative)
        count = cumulative;
      out += "taskpipe_stage_latency_seconds_bucket{stage=\"" + name + "\",le=\"+Inf\"} ";
      append_u64(out, count);
      out += "\ntaskpipe_stage_latency_seconds_sum{stage=\"" + name + "\"} ";
      append_double(out, static_cast<double>(load(s.latency_sum_us)) / 1e6);
      out += "\ntaskpipe_stage_latency_seconds_count{stage=\"" + name + "\"} ";
      append_u64(out, count);
      out += '\n';
    }

    header(out, "taskpipe_tasks_in_flight", "gauge",
           "Tasks admitted and without an outcome yet.");
    out += "taskpipe_tasks_in_flight ";
    append_u64(out, load(pm->tasks_in_flight));
    out += '\n';

    header(out, "taskpipe_batches_total", "counter", "Batches finished, by final state.");
    out += "taskpipe_batches_total{state=\"done\"} ";
    append_u64(out, load(pm->batches_done));
    out += "\ntaskpipe_batches_total{state=\"cancelled\"} ";
    append_u64(out, load(pm->batches_cancelled));
    out += '\n';
  }
  if (front != nullptr) {
    header(out, "taskpipe_http_responses_total", "counter", "HTTP responses sent, by status code.");
    for (std::size_t i = 0; i <= http_counters::codes.size(); ++i) {
      out += "taskpipe_http_responses_total{code=\"";
      out += i < http_counters::codes.size() ? std::to_string(http_counters::codes[i])
                                             : std::string{"other"};
      out += "\"} ";
      append_u64(out, load(front->responses[i]));
      out += '\n';
    }
    header(out, "taskpipe_http_connections_open", "gauge", "Open HTTP connections.");
    out += "taskpipe_http_connections_open ";
    append_u64(out, load(front->connections_open));
    out += '\n';
    header(out, "taskpipe_http_requests_in_progress", "gauge",
           "HTTP requests read and not yet answered (batches waited for included).");
    out += "taskpipe_http_requests_in_progress ";
    append_u64(out, load(front->requests_in_progress));
    out += '\n';
    header(out, "taskpipe_http_connections_refused_total", "counter",
           "HTTP connections refused because --max-connections were open.");
    out += "taskpipe_http_connections_refused_total ";
    append_u64(out, load(front->connections_refused));
    out += '\n';
    header(out, "taskpipe_http_body_bytes_in_flight", "gauge",
           "Request body bytes being read or decoded (bounded by --max-body-bytes-in-flight).");
    out += "taskpipe_http_body_bytes_in_flight ";
    append_u64(out, load(front->body_bytes_in_flight));
    out += '\n';
  }
  return out;
}

} // namespace taskpipe::http
