#include "main/http/stats_json.hpp"

#include "main/http/json_writer.hpp"
#include "messages/task.hpp"

namespace taskpipe::http {

namespace {

/// Writes `"key":` (with a comma before it unless it opens an object).
class object_writer {
public:
  explicit object_writer(std::string& out) : out_(out) {
    out_ += '{';
  }
  ~object_writer() {
    out_ += '}';
  }
  object_writer(const object_writer&) = delete;
  object_writer& operator=(const object_writer&) = delete;

  std::string& key(std::string_view k) {
    if (!first_)
      out_ += ',';
    first_ = false;
    append_json_string(out_, k);
    out_ += ':';
    return out_;
  }
  void text(std::string_view k, std::string_view v) {
    append_json_string(key(k), v);
  }
  void number(std::string_view k, double v) {
    append_json_number(key(k), v);
  }
  void count(std::string_view k, std::uint64_t v) {
    key(k) += std::to_string(v);
  }
  void flag(std::string_view k, bool v) {
    key(k) += v ? "true" : "false";
  }
  void maybe(std::string_view k, const std::optional<double>& v) {
    if (v)
      number(k, *v);
    else
      key(k) += "null";
  }

private:
  std::string& out_;
  bool first_ = true;
};

/// `[` item `,` item ... `]`, each written by `write(out, item)`.
template <class Range, class Write>
void array(std::string& out, const Range& items, Write write) {
  out += '[';
  bool first = true;
  for (const auto& item : items) {
    if (!first)
      out += ',';
    first = false;
    write(out, item);
  }
  out += ']';
}

/// The figures a stage and each of its nodes have alike.
void write_figures(object_writer& o, const stage_figures& v) {
  o.count("workers", v.workers.size());
  o.count("held", v.held);
  o.count("waiting", v.waiting);
  o.count("queued_chunks", v.queued_chunks);
  o.count("done", v.done);
  o.count("failed", v.failed);
  o.number("done_per_s", v.done_per_s);
  o.number("failed_per_s", v.failed_per_s);
  o.number("busy", v.busy);
  o.maybe("p50_ms", v.p50_ms);
  o.maybe("p99_ms", v.p99_ms);
  array(o.key("worker_list"), v.workers, [](std::string& s, const worker_view& w) {
    object_writer wo{s};
    wo.count("held", w.held);
    wo.count("done", w.done);
    wo.count("failed", w.failed);
    wo.number("busy", w.busy);
  });
}

void write_stage(std::string& out, const stage_view& v) {
  object_writer o{out};
  o.text("name", to_string(v.which));
  o.text("where", v.local ? "local" : "remote");
  array(o.key("hosts"), v.hosts, append_json_string);
  write_figures(o, v);
  array(o.key("nodes"), v.nodes, [](std::string& s, const node_view& n) {
    object_writer no{s};
    no.text("peer", n.peer);
    no.text("state", n.state);
    no.maybe("age_s", n.age_s);
    no.text("detail", n.detail);
    write_figures(no, n);
  });
}

void write_rates(std::string& out, const rate_point& r) {
  object_writer o{out};
  o.number("accepted_per_s", r.accepted);
  o.number("done_per_s", r.done);
  o.number("failed_per_s", r.failed);
}

void write_batch(std::string& out, const batch_summary& b) {
  object_writer o{out};
  auto id = batch_id_text(b.batch);
  o.text("batch_id", id);
  o.text("status_url", batch_url(id));
  o.text("state", to_string(b.state));
  o.count("total", b.total);
  o.count("succeeded", b.succeeded);
  o.count("failed", b.failed);
  o.count("pending", b.total - std::min(b.total, b.succeeded + b.failed));
  o.number("age_ms", b.age_ms);
  o.number("elapsed_ms", b.elapsed_ms);
}

void write_failure(std::string& out, const task_failure& f) {
  object_writer o{out};
  o.text("batch_id", batch_id_text(f.batch));
  o.count("id", static_cast<std::uint64_t>(f.id));
  o.text("stage", to_string(f.where));
  o.text("code", to_string(f.code));
  o.text("reason", f.reason);
}

} // namespace

std::string stats_json(const stats_snapshot& s) {
  std::string out;
  out.reserve(8 * 1024);
  {
    object_writer o{out};
    o.count("seq", s.seq);
    {
      object_writer node{o.key("node")};
      node.text("name", s.node);
      node.text("version", s.version);
      node.number("uptime_s", s.uptime_s);
      node.flag("draining", s.draining);
    }
    {
      object_writer store{o.key("store")};
      store.text("kind", s.store_kind);
      store.text("health", s.store_health);
      store.text("detail", s.store_detail);
    }
    array(o.key("hosts"), s.hosts, [](std::string& out2, const host_view& h) {
      object_writer ho{out2};
      ho.text("peer", h.peer);
      array(ho.key("stages"), h.stages, append_json_string);
      ho.text("state", h.state);
      ho.text("detail", h.detail);
    });
    array(o.key("stages"), s.stages, write_stage);
    o.number("interval_s", s.interval_s);
    write_rates(o.key("rates"), s.rates);
    array(o.key("history"), s.history, write_rates);
    {
      object_writer t{o.key("totals")};
      t.count("accepted", s.accepted);
      t.count("succeeded", s.succeeded);
      t.count("failed", s.failed);
      t.count("in_flight", s.in_flight);
      t.count("batches_running", s.batches_running);
      t.count("batches_done", s.batches_done);
      t.count("batches_cancelled", s.batches_cancelled);
    }
    array(o.key("batches"), s.batches, write_batch);
    {
      object_writer f{o.key("failures")};
      f.number("window_s", s.failure_window_s);
      {
        object_writer codes{f.key("by_code")};
        for (const auto& c : s.failures_by_code)
          codes.count(c.code, c.count);
      }
      array(f.key("last"), s.last_failures, write_failure);
    }
  }
  return out;
}

} // namespace taskpipe::http
