// <utility> first: Boost 1.74's awaitable headers use std::exchange without including it (g++ 12).
#include <utility>

#include "main/http/server.hpp"

#include "main/http/batch_decoder.hpp"
#include "main/http/json_writer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <iostream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace taskpipe::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct server::state : std::enable_shared_from_this<server::state> {
  state(backend& b, std::shared_ptr<const pipeline_metrics> m, server_options o)
    : be(b), metrics(std::move(m)), opts(std::move(o)), ioc(static_cast<int>(opts.threads)) {
  }

  // Everything a connection touches is declared before `ioc`: destroying the io_context
  // destroys the suspended connection coroutines, whose destructors still use these.
  backend& be;
  std::shared_ptr<const pipeline_metrics> metrics;
  server_options opts;
  http_counters counters;
  std::atomic<bool> draining{false};
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::string address;
  std::uint16_t port = 0;

  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
};

namespace {

using state = server::state;

constexpr std::uint32_t max_header_bytes = 16 * 1024;
constexpr std::uint64_t max_other_body_bytes = 64 * 1024;
constexpr std::size_t max_linger_bytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds linger_time{2};
constexpr std::chrono::seconds write_timeout{60};
constexpr std::string_view json_type = "application/json";

/// One response, before it becomes a Beast message.
struct reply {
  bhttp::status status = bhttp::status::ok;
  std::string body;
  std::string content_type{json_type};
  std::vector<std::pair<bhttp::field, std::string>> headers;
  bool close = false;  ///< close the connection after writing
};

reply json_reply(bhttp::status status, std::string body) {
  reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

reply error_reply(bhttp::status status, std::string_view code, std::string_view detail) {
  return json_reply(status, error_json(code, detail));
}

/// Client text quoted in a detail, bounded in length.
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

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

/// Compares in time that depends only on the expected token's length, never on where they differ.
bool constant_time_equal(std::string_view given, std::string_view expected) {
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

bool authorized(const state& st, std::string_view header) {
  // "Bearer <token>", scheme case-insensitive (RFC 7235).
  constexpr std::string_view scheme = "bearer";
  header = trim(header);
  if (header.size() <= scheme.size() || !iequals(header.substr(0, scheme.size()), scheme)
      || (header[scheme.size()] != ' ' && header[scheme.size()] != '\t'))
    return false;
  return constant_time_equal(trim(header.substr(scheme.size())), st.opts.api_token);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

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

enum class route : std::uint8_t { submit, batch_status, batch_cancel, task, healthz, metrics };

/// What the request line and headers say, or the whole-request error they already cause.
struct plan {
  route where = route::healthz;
  std::optional<reply> early;  ///< an error decided before the body
  bool wait = true;
  std::string batch_id;
  std::string task_text;
};

/// Parses the query of a route: only `wait` (on POST /v1/batches) is known.
std::optional<reply> parse_query(std::string_view query, route where, plan& p) {
  bool seen_wait = false;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty())
      continue;
    auto eq = item.find('=');
    std::string name;
    std::string value;
    if (!percent_decode(item.substr(0, eq), name)
        || (eq != std::string_view::npos && !percent_decode(item.substr(eq + 1), value)))
      return error_reply(bhttp::status::bad_request, "bad_request",
                         "query parameter " + quoted(item) + " is not valid percent-encoding");
    if (where != route::submit || name != "wait")
      return error_reply(bhttp::status::bad_request, "bad_request",
                         "unknown query parameter " + quoted(name)
                           + (where == route::submit ? "; the only one is wait=true|false"
                                                     : "; this endpoint takes none"));
    if (seen_wait)
      return error_reply(bhttp::status::bad_request, "bad_request",
                         "query parameter wait given twice");
    seen_wait = true;
    if (eq == std::string_view::npos || (value != "true" && value != "false"))
      return error_reply(bhttp::status::bad_request, "bad_request",
                         "query parameter wait must be true or false, got "
                           + (eq == std::string_view::npos ? std::string{"no value"}
                                                           : quoted(value)));
    p.wait = value == "true";
  }
  return std::nullopt;
}

reply method_not_allowed(bhttp::verb method, std::string_view method_text, std::string_view path,
                         std::string allow) {
  auto r = error_reply(bhttp::status::method_not_allowed, "method_not_allowed",
                       "method "
                         + (method == bhttp::verb::unknown ? quoted(method_text)
                                                           : std::string{bhttp::to_string(method)})
                         + " is not allowed on " + std::string{path} + "; allowed: " + allow);
  r.headers.emplace_back(bhttp::field::allow, std::move(allow));
  return r;
}

/// 401, then 404/405, then 400 for the query: the checks that need only the request line.
plan make_plan(const state& st, const bhttp::request<bhttp::string_body>& req) {
  plan p;
  auto target = sv(req.target());
  auto qpos = target.find('?');
  auto path = target.substr(0, qpos);
  auto query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);

  if (!st.opts.api_token.empty() && path != "/healthz") {
    auto it = req.find(bhttp::field::authorization);
    bool ok = it != req.end() && authorized(st, sv(it->value()));
    if (!ok) {
      auto r = error_reply(bhttp::status::unauthorized, "unauthorized",
                           it == req.end()
                             ? "missing Authorization: Bearer <token> header"
                             : "the Authorization header does not hold the API token");
      r.headers.emplace_back(bhttp::field::www_authenticate, "Bearer realm=\"taskpipe\"");
      p.early = std::move(r);
      return p;
    }
  }

  auto method = req.method();
  auto method_text = sv(req.method_string());
  constexpr std::string_view batches = "/v1/batches";
  constexpr std::string_view batches_prefix = "/v1/batches/";
  constexpr std::string_view tasks_prefix = "/v1/tasks/";
  if (path == batches) {
    if (method != bhttp::verb::post) {
      p.early = method_not_allowed(method, method_text, path, "POST");
      return p;
    }
    p.where = route::submit;
  } else if (path.size() > batches_prefix.size() && path.substr(0, batches_prefix.size()) == batches_prefix
             && path.find('/', batches_prefix.size()) == std::string_view::npos) {
    p.batch_id = std::string{path.substr(batches_prefix.size())};
    if (method == bhttp::verb::get)
      p.where = route::batch_status;
    else if (method == bhttp::verb::delete_)
      p.where = route::batch_cancel;
    else {
      p.early = method_not_allowed(method, method_text, path, "GET, DELETE");
      return p;
    }
  } else if (path.size() > tasks_prefix.size() && path.substr(0, tasks_prefix.size()) == tasks_prefix
             && path.find('/', tasks_prefix.size()) == std::string_view::npos) {
    if (method != bhttp::verb::get) {
      p.early = method_not_allowed(method, method_text, path, "GET");
      return p;
    }
    p.where = route::task;
    p.task_text = std::string{path.substr(tasks_prefix.size())};
  } else if (path == "/healthz" || path == "/metrics") {
    if (method != bhttp::verb::get) {
      p.early = method_not_allowed(method, method_text, path, "GET");
      return p;
    }
    p.where = path == "/healthz" ? route::healthz : route::metrics;
  } else {
    p.early = error_reply(bhttp::status::not_found, "not_found",
                          "no such path: " + quoted(path)
                            + "; the API has POST /v1/batches, GET|DELETE /v1/batches/{id}, "
                              "GET /v1/tasks/{id}, GET /healthz and GET /metrics");
    return p;
  }
  if (auto bad = parse_query(query, p.where, p))
    p.early = std::move(bad);
  return p;
}

/// 415: the media type must be application/json; parameters (charset) are fine.
std::optional<reply> check_content_type(const bhttp::request<bhttp::string_body>& req) {
  auto it = req.find(bhttp::field::content_type);
  if (it == req.end())
    return error_reply(bhttp::status::unsupported_media_type, "unsupported_media_type",
                       "Content-Type must be application/json; the request has none");
  auto value = sv(it->value());
  auto media = trim(value.substr(0, value.find(';')));
  if (!iequals(media, json_type))
    return error_reply(bhttp::status::unsupported_media_type, "unsupported_media_type",
                       "Content-Type must be application/json, got " + quoted(value));
  return std::nullopt;
}

reply too_large_body(const state& st) {
  return error_reply(bhttp::status::payload_too_large, "batch_too_large",
                     "the body is over --max-body-bytes=" + std::to_string(st.opts.max_body_bytes)
                       + " bytes");
}

reply refused_reply(const state& st, const backend_reply& r) {
  switch (r.why) {
    case refusal::overloaded: {
      auto out = error_reply(bhttp::status::service_unavailable, "overloaded", r.detail);
      out.headers.emplace_back(bhttp::field::retry_after,
                               std::to_string(st.opts.retry_after_overloaded.count()));
      return out;
    }
    case refusal::batch_too_large:
      return error_reply(bhttp::status::payload_too_large, "batch_too_large", r.detail);
    case refusal::unknown_batch:
      return error_reply(bhttp::status::not_found, "not_found", r.detail);
    case refusal::shutting_down:
      break;
  }
  auto out = error_reply(bhttp::status::service_unavailable, "shutting_down", r.detail);
  out.headers.emplace_back(bhttp::field::retry_after,
                           std::to_string(st.opts.retry_after_shutting_down.count()));
  return out;
}

reply shutting_down(const state& st) {
  backend_reply r;
  r.what = backend_reply::kind::refused;
  r.why = refusal::shutting_down;
  r.detail = "the node is draining and admits no new batches";
  return refused_reply(st, r);
}

reply failed_reply(const state& st, const backend_reply& r) {
  if (st.draining.load())
    return shutting_down(st);
  return error_reply(bhttp::status::internal_server_error, "internal", r.detail);
}

/// Awaits the backend's answer: `start` receives a reply_fn that may be called on any thread; the
/// answer is posted to the coroutine's executor (the connection's strand) and resumes it there.
/// A plain function taking `start` by reference and returning the awaitable: g++ 12 mishandles
/// non-trivial temporaries inside a co_await expression (destroys them twice), so callers keep
/// `start` in a named local.
/// The callback keeps the server's state (and so its io_context) alive until it has posted.
template <class Start>
asio::awaitable<backend_reply> backend_call(state& st, Start& start) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(backend_reply)>(
    [start = std::move(start), keep = st.shared_from_this()](auto handler) mutable {
      using handler_type = decltype(handler);
      auto ex = asio::get_associated_executor(handler);
      auto slot = std::make_shared<std::optional<handler_type>>(std::move(handler));
      start([slot, ex, keep](backend_reply r) {
        asio::post(ex, [slot, r = std::move(r)]() mutable {
          auto h = std::move(**slot);
          slot->reset();
          h(std::move(r));
        });
      });
    },
    asio::use_awaitable);
}

/// Writes a response; false if the connection broke.
asio::awaitable<bool> write_reply(state& st, beast::tcp_stream& stream, unsigned version,
                                  bool keep_alive, reply& r) {
  bhttp::response<bhttp::string_body> res{r.status, version};
  res.set(bhttp::field::server, "taskpipe");
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [field, value] : r.headers)
    res.set(field, value);
  res.keep_alive(keep_alive && !r.close);
  res.body() = std::move(r.body);
  res.prepare_payload();
  st.counters.count_response(static_cast<unsigned>(r.status));
  beast::error_code ec;
  stream.expires_after(write_timeout);
  co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

/// After answering a request whose body was not read: stop sending, read and drop what the
/// client still sends for a moment (so it sees the answer instead of a reset), then close.
asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(linger_time);
  std::vector<char> sink(16 * 1024);
  std::size_t total = 0;
  while (total < max_linger_bytes) {
    auto n = co_await stream.async_read_some(asio::buffer(sink),
                                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      break;
    total += n;
  }
  stream.socket().close(ec);
}

struct counter_guard {
  explicit counter_guard(std::atomic<std::uint64_t>& c) : counter(c) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  ~counter_guard() {
    counter.fetch_sub(1, std::memory_order_relaxed);
  }
  counter_guard(const counter_guard&) = delete;
  counter_guard& operator=(const counter_guard&) = delete;
  std::atomic<std::uint64_t>& counter;
};

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

/// POST /v1/batches once its body is read.
asio::awaitable<reply> submit_batch(state& st, const plan& p, std::string_view body) {
  auto decoded = decode_batch(body, static_cast<std::size_t>(
                                      std::min<std::uint64_t>(st.opts.max_batch_tasks,
                                                              st.opts.max_in_flight)));
  if (decoded.status == decode_status::invalid_json)
    co_return error_reply(bhttp::status::bad_request, "invalid_json", decoded.detail);
  if (decoded.status == decode_status::invalid_batch)
    co_return error_reply(bhttp::status::bad_request, "invalid_batch", decoded.detail);
  auto count = static_cast<std::uint64_t>(decoded.task_count);
  if (count > st.opts.max_batch_tasks)
    co_return error_reply(bhttp::status::payload_too_large, "batch_too_large",
                          "the batch has " + std::to_string(count)
                            + " tasks, over --max-batch-tasks="
                            + std::to_string(st.opts.max_batch_tasks));
  if (count > st.opts.max_in_flight)
    co_return error_reply(bhttp::status::payload_too_large, "batch_too_large",
                          "the batch has " + std::to_string(count)
                            + " tasks, over --max-in-flight="
                            + std::to_string(st.opts.max_in_flight)
                            + ": it could never be admitted");
  if (st.draining.load())
    co_return shutting_down(st);
  bool wait = p.wait;
  auto start = [&st, batch = std::move(decoded.batch), wait](reply_fn done) mutable {
    st.be.submit(std::move(batch), wait, std::move(done));
  };
  auto answer = co_await backend_call(st, start);
  if (answer.what == backend_reply::kind::refused)
    co_return refused_reply(st, answer);
  if (answer.what != backend_reply::kind::ok)
    co_return failed_reply(st, answer);
  if (wait)
    co_return json_reply(bhttp::status::ok, report_json(answer.report));
  auto r = json_reply(bhttp::status::accepted, accepted_json(answer.report.batch_id));
  r.headers.emplace_back(bhttp::field::location, batch_url(answer.report.batch_id));
  co_return r;
}

/// Every route but POST /v1/batches (whose body is read first).
asio::awaitable<reply> answer_route(state& st, const plan& p) {
  switch (p.where) {
    case route::healthz:
      if (st.draining.load())
        co_return json_reply(bhttp::status::service_unavailable, "{\"status\":\"draining\"}");
      co_return json_reply(bhttp::status::ok, "{\"status\":\"ok\"}");
    case route::metrics: {
      reply r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = render_metrics(st.metrics.get(), &st.counters);
      co_return r;
    }
    case route::batch_status:
    case route::batch_cancel: {
      std::uint64_t number = 0;
      if (!parse_batch_id(p.batch_id, number))
        co_return error_reply(bhttp::status::not_found, "not_found",
                              "no batch " + quoted(p.batch_id)
                                + "; batch ids look like b-0123456789abcdef");
      bool cancel = p.where == route::batch_cancel;
      auto start = [&st, id = p.batch_id, cancel](reply_fn done) mutable {
        if (cancel)
          st.be.cancel(std::move(id), std::move(done));
        else
          st.be.status(std::move(id), std::move(done));
      };
      auto answer = co_await backend_call(st, start);
      if (answer.what == backend_reply::kind::refused) {
        if (answer.why == refusal::unknown_batch)
          co_return error_reply(bhttp::status::not_found, "not_found",
                                "no batch " + quoted(p.batch_id)
                                  + " (unknown, or finished more than 10 minutes ago)");
        co_return refused_reply(st, answer);
      }
      if (answer.what != backend_reply::kind::ok)
        co_return failed_reply(st, answer);
      co_return json_reply(bhttp::status::ok, status_json(answer.report));
    }
    case route::task: {
      std::int64_t id = 0;
      if (!parse_task_id(p.task_text, id))
        co_return error_reply(bhttp::status::not_found, "not_found",
                              "no task " + quoted(p.task_text)
                                + "; task ids are integers from 1 to 9223372036854775807");
      auto start = [&st, id](reply_fn done) { st.be.get_task(id, std::move(done)); };
      auto answer = co_await backend_call(st, start);
      if (answer.what != backend_reply::kind::ok)
        co_return answer.what == backend_reply::kind::refused ? refused_reply(st, answer)
                                                              : failed_reply(st, answer);
      if (answer.task.id == 0)
        co_return error_reply(bhttp::status::not_found, "not_found",
                              "task " + std::to_string(id) + " does not exist");
      co_return json_reply(bhttp::status::ok, task_json(answer.task));
    }
    case route::submit:
      break;
  }
  co_return error_reply(bhttp::status::internal_server_error, "internal", "unrouted request");
}

bool is_disconnect(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof
         || ec == asio::error::connection_reset || ec == asio::error::operation_aborted
         || ec == asio::error::broken_pipe || ec == beast::error::timeout
         || ec == asio::error::not_connected || ec == asio::error::bad_descriptor;
}

/// Answers an error decided before the body was read (or while reading it). A body left unread
/// means the connection cannot be reused: close it after a lingering read. Returns whether the
/// connection stays open.
asio::awaitable<bool> answer_early(state& st, beast::tcp_stream& stream, bool body_unread,
                                   unsigned version, bool keep, reply& r) {
  if (body_unread)
    r.close = true;
  bool ok = co_await write_reply(st, stream, version, keep && !st.draining.load(), r);
  if (body_unread && ok)
    co_await linger_close(stream);
  co_return ok && keep && !body_unread && !st.draining.load();
}

/// Handles one request whose header was read. Returns whether the connection stays open.
asio::awaitable<bool> handle_request(state& st, beast::tcp_stream& stream,
                                     beast::flat_buffer& buffer,
                                     bhttp::request_parser<bhttp::string_body>& parser) {
  counter_guard in_progress{st.counters.requests_in_progress};
  auto& req = parser.get();
  unsigned version = req.version();
  bool keep = req.keep_alive();
  auto p = make_plan(st, req);
  std::optional<reply> early = std::move(p.early);
  beast::error_code ec;

  if (!early && p.where == route::submit) {
    early = check_content_type(req);
    if (!early) {
      if (auto length = parser.content_length(); length && *length > st.opts.max_body_bytes)
        early = too_large_body(st);
    }
  }
  if (early) {
    bool open = co_await answer_early(st, stream, !parser.is_done(), version, keep, *early);
    co_return open;
  }

  if (!parser.is_done()) {
    if (p.where == route::submit) {
      parser.body_limit(st.opts.max_body_bytes);
      auto expect = req.find(bhttp::field::expect);
      if (expect != req.end() && iequals(sv(expect->value()), "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
        stream.expires_after(write_timeout);
        co_await bhttp::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
        if (ec)
          co_return false;
      }
    } else {
      // Other routes take no body; read (and ignore) a small one to keep the connection usable.
      parser.body_limit(max_other_body_bytes);
    }
    stream.expires_after(st.opts.body_timeout);
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::body_limit) {
      reply r = p.where == route::submit
                  ? too_large_body(st)
                  : error_reply(bhttp::status::bad_request, "bad_request",
                                "this endpoint takes no body; got more than "
                                  + std::to_string(max_other_body_bytes) + " bytes");
      bool open = co_await answer_early(st, stream, true, version, keep, r);
      co_return open;
    }
    if (ec) {
      if (!is_disconnect(ec)) {
        reply r = error_reply(bhttp::status::bad_request, "bad_request",
                              "malformed HTTP body: " + ec.message());
        co_await answer_early(st, stream, true, version, keep, r);
      }
      co_return false;
    }
  }
  stream.expires_never();
  reply r;
  if (p.where == route::submit)
    r = co_await submit_batch(st, p, parser.get().body());
  else
    r = co_await answer_route(st, p);
  bool ok = co_await write_reply(st, stream, version, keep && !st.draining.load(), r);
  co_return ok && keep && !st.draining.load();
}

asio::awaitable<void> session(state* st, tcp::socket socket) {
  counter_guard open{st->counters.connections_open};
  beast::tcp_stream stream{std::move(socket)};
  beast::flat_buffer buffer;
  try {
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(max_header_bytes);
      // No limit while reading the header (Beast would refuse a large Content-Length there, before
      // 401/404/415 are checked); handle_request sets the route's limit before reading the body.
      // (Not boost::none: Beast 1.74 compares `length > none`, which is always true.)
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      beast::error_code ec;
      stream.expires_after(st->opts.idle_timeout);
      co_await bhttp::async_read_header(stream, buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!is_disconnect(ec) && parser.got_some()) {
          auto detail = ec == bhttp::error::header_limit
                          ? "the request header is over " + std::to_string(max_header_bytes)
                              + " bytes"
                          : "malformed HTTP request: " + ec.message();
          reply r = error_reply(bhttp::status::bad_request, "bad_request", detail);
          r.close = true;
          if (co_await write_reply(*st, stream, 11, false, r))
            co_await linger_close(stream);
        }
        break;
      }
      if (!co_await handle_request(*st, stream, buffer, parser))
        break;
    }
  } catch (const std::exception& e) {
    std::cerr << "taskpipe serve: connection error: " << e.what() << std::endl;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.socket().close(ec);
}

asio::awaitable<void> accept_loop(state* st) {
  asio::steady_timer backoff{st->ioc};
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await st->acceptor.async_accept(
      asio::make_strand(st->ioc), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !st->acceptor.is_open())
        co_return;
      // Out of file descriptors and the like: wait a bit instead of spinning.
      backoff.expires_after(std::chrono::milliseconds{50});
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay{true}, ec);
    auto ex = socket.get_executor();
    asio::co_spawn(ex, session(st, std::move(socket)), asio::detached);
  }
}

} // namespace

server::server(backend& be, std::shared_ptr<const pipeline_metrics> metrics, server_options opts)
  : state_(std::make_shared<state>(be, std::move(metrics), std::move(opts))) {
  if (state_->opts.threads == 0)
    state_->opts.threads = 1;
}

server::~server() {
  stop();
}

void server::start() {
  auto& st = *state_;
  if (st.started.exchange(true))
    return;
  tcp::resolver resolver{st.ioc};
  beast::error_code ec;
  auto results = resolver.resolve(st.opts.host, std::to_string(st.opts.port),
                                  tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot resolve " + st.opts.host + ": "
                             + (ec ? ec.message() : std::string{"no address"}));
  auto endpoint = results.begin()->endpoint();
  auto where = [&] {
    return st.opts.host + ":" + std::to_string(st.opts.port);
  };
  st.acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    st.acceptor.set_option(asio::socket_base::reuse_address{true}, ec);
  if (!ec)
    st.acceptor.bind(endpoint, ec);
  if (!ec)
    st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(ec, "cannot listen on " + where());
  auto local = st.acceptor.local_endpoint();
  st.port = local.port();
  auto addr = local.address();
  st.address = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  st.work.emplace(st.ioc.get_executor());
  asio::co_spawn(st.ioc, accept_loop(&st), asio::detached);
  for (std::size_t i = 0; i < st.opts.threads; ++i) {
    st.threads.emplace_back([s = state_] {
      for (;;) {
        try {
          s->ioc.run();
          return;
        } catch (const std::exception& e) {
          std::cerr << "taskpipe serve: HTTP thread error: " << e.what() << std::endl;
        }
      }
    });
  }
}

std::string server::address() const {
  return state_->address + ":" + std::to_string(state_->port);
}

std::uint16_t server::port() const {
  return state_->port;
}

void server::begin_drain() {
  state_->draining.store(true);
}

bool server::draining() const {
  return state_->draining.load();
}

const http_counters& server::counters() const {
  return state_->counters;
}

void server::stop(std::chrono::milliseconds grace) {
  auto& st = *state_;
  if (!st.started.load() || st.stopped.exchange(true))
    return;
  asio::post(st.ioc, [s = &st] {
    beast::error_code ec;
    s->acceptor.close(ec);
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (st.counters.requests_in_progress.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  st.work.reset();
  st.ioc.stop();
  for (auto& t : st.threads)
    if (t.joinable())
      t.join();
  st.threads.clear();
}

} // namespace taskpipe::http
