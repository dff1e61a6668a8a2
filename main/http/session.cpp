#include "main/http/session.hpp"

// g++ 12's false positive of -Wmismatched-new-delete on Asio's coroutine frames (see
// handlers.cpp): it shows here since a response's body is three buffers (responses.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "main/http/access_log.hpp"
#include "main/http/event_stream.hpp"
#include "main/http/handlers.hpp"
#include "main/http/responses.hpp"
#include "main/http/router.hpp"
#include "main/log.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

namespace taskpipe::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint32_t max_header_bytes = 16 * 1024;
/// What the parser may buffer beyond the body it hands on: the header, a chunk-size line with
/// its extensions, a trailer (and pipelined requests behind them). Beast keeps a chunk-size line
/// or a trailer whole until it ends, so without this cap an endless one grows without limit.
constexpr std::size_t max_buffered_bytes = 64 * 1024;
constexpr std::size_t max_linger_bytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds linger_time{2};
constexpr std::chrono::seconds write_timeout{60};
/// Connections refused over --max-connections: a short linger, and at most this many at once
/// (beyond, they are closed without an answer) so that refusing holds few descriptors.
constexpr std::chrono::milliseconds refusal_linger{500};
constexpr std::uint64_t max_refusing = 256;

using request_parser = bhttp::request_parser<budgeted_body>;

bool is_disconnect(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof
         || ec == asio::error::connection_reset || ec == asio::error::operation_aborted
         || ec == asio::error::broken_pipe || ec == beast::error::timeout
         || ec == asio::error::not_connected || ec == asio::error::bad_descriptor;
}

/// Writes a response (only its header for HEAD) and logs it; false if the connection broke.
asio::awaitable<bool> write_response(front_state& st, beast::tcp_stream& stream, unsigned version,
                                     bool keep_alive, response& r, const access_entry& access,
                                     bool head_only = false) {
  auto status = static_cast<unsigned>(r.status);
  st.counters.count_response(status);
  auto res = to_message(std::move(r), version, keep_alive);
  if (head_only)
    res.body().clear();  // Content-Length stays that of the body a GET would get
  beast::error_code ec;
  stream.expires_after(write_timeout);
  co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  log_access(access, status, res.body().head, parts_body::size(res.body()));
  co_return !ec;
}

/// The client's address, for the access log.
std::string peer_of(beast::tcp_stream& stream) {
  beast::error_code ec;
  auto ep = stream.socket().remote_endpoint(ec);
  if (ec)
    return "-";
  auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":"
         + std::to_string(ep.port());
}

/// After answering a request whose body was not read: stop sending, read and drop what the
/// client still sends for a moment (so it sees the answer instead of a reset), then close.
asio::awaitable<void> linger_close(beast::tcp_stream& stream,
                                   std::chrono::milliseconds linger = linger_time,
                                   std::size_t max_bytes = max_linger_bytes) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(linger);
  std::vector<char> sink(16 * 1024);
  std::size_t total = 0;
  while (total < max_bytes) {
    auto n = co_await stream.async_read_some(asio::buffer(sink),
                                             asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      break;
    total += n;
  }
  stream.socket().close(ec);
}

/// What a request needs to answer it on its connection.
struct answer_to {
  front_state& st;
  beast::tcp_stream& stream;
  unsigned version;
  bool keep;  ///< the client wants the connection kept
  bool head;  ///< HEAD: the answer has no body
  access_entry access;  ///< what the access log says about it
};

/// Answers an error decided before the body was read (or while reading it). A body left unread
/// (or a framing the router distrusts: r.close) means the connection cannot be reused: close it
/// after a lingering read. Returns whether the connection stays open.
asio::awaitable<bool> answer_early(answer_to& x, bool body_unread, response& r) {
  bool close = body_unread || r.close;
  r.close = close;
  bool ok = co_await write_response(x.st, x.stream, x.version, x.keep && !x.st.draining.load(), r,
                                    x.access, x.head);
  if (close && ok)
    co_await linger_close(x.stream);
  co_return ok && x.keep && !close && !x.st.draining.load();
}

response over_body_budget(const front_state& st) {
  return refused(st.opts, refusal::overloaded,
                 "the request bodies being read hold --max-body-bytes-in-flight="
                   + std::to_string(st.bodies.limit()) + " bytes; retry later");
}

/// Handles one request whose header was read. Returns whether the connection stays open.
asio::awaitable<bool> handle_request(front_state& st, beast::tcp_stream& stream,
                                     beast::flat_buffer& buffer, request_parser& parser) {
  counter_guard in_progress{st.counters.requests_in_progress};
  auto& req = parser.get();
  answer_to x{st, stream, req.version(), req.keep_alive(), req.method() == bhttp::verb::head, {}};
  x.access.method = std::string{req.method_string()};
  auto target = req.target();
  x.access.path = std::string{target.substr(0, target.find('?'))};
  x.access.peer = peer_of(stream);
  framing body;
  if (auto length = parser.content_length())
    body.content_length = *length;
  body.chunked = parser.chunked();
  auto routed = route_request(req, body, st.opts);
  if (auto* err = std::get_if<response>(&routed)) {
    bool open = co_await answer_early(x, !parser.is_done(), *err);
    co_return open;
  }
  auto& p = std::get<plan>(routed);
  x.access.batch_id = p.batch_id;
  beast::error_code ec;
  if (!parser.is_done()) {
    // The body counts against the budget from now on: all of it when its length is known.
    auto& lease = req.body().lease;
    lease = body_lease{st.bodies};
    if (body.content_length && !lease.hold(*body.content_length)) {
      auto r = over_body_budget(st);
      bool open = co_await answer_early(x, true, r);
      co_return open;
    }
    parser.body_limit(p.body_limit);
    if (p.expect_continue) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, x.version};
      stream.expires_after(write_timeout);
      co_await bhttp::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
      if (ec)
        co_return false;
    }
    stream.expires_after(st.opts.body_timeout);
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec && !is_disconnect(ec)) {
      response r = ec == bhttp::error::body_limit
                     ? (p.where == route::submit ? body_too_large(st.opts.max_body_bytes)
                                                 : body_not_taken(p.body_limit))
                   : ec == over_budget() ? over_body_budget(st)
                   : ec == bhttp::error::buffer_overflow
                     ? bad_request("a chunk-size line, chunk extension or trailer is over "
                                   + std::to_string(max_buffered_bytes) + " bytes")
                     : bad_request("malformed HTTP body: " + ec.message());
      co_await answer_early(x, true, r);
    }
    if (ec)
      co_return false;
  }
  stream.expires_never();
  if (p.where == route::events && !x.head && st.stats) {  // the dashboard's event stream
    co_await stream_events(st, stream, x.version, x.access);
    co_return false;
  }
  response r = co_await answer(st, p, std::move(req.body()));
  bool ok = co_await write_response(st, stream, x.version, x.keep && !st.draining.load(), r,
                                    x.access, x.head);
  co_return ok && x.keep && !st.draining.load();
}

} // namespace

asio::awaitable<void> session(front_state* st, tcp::socket socket) {
  counter_guard open{st->counters.connections_open, counter_guard::adopt_t{}};
  beast::tcp_stream stream{std::move(socket)};
  beast::flat_buffer buffer{max_buffered_bytes};
  try {
    for (;;) {
      request_parser parser;
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
          response r = bad_request(detail);
          r.close = true;
          access_entry unreadable;
          unreadable.peer = peer_of(stream);
          if (co_await write_response(*st, stream, 11, false, r, unreadable))
            co_await linger_close(stream);
        }
        break;
      }
      if (!co_await handle_request(*st, stream, buffer, parser))
        break;
    }
  } catch (const std::exception& e) {
    log::error("http", std::string{"connection error: "} + e.what());
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.socket().close(ec);
}

asio::awaitable<void> refuse_connection(front_state* st, tcp::socket socket) {
  counter_guard refusing{st->counters.connections_refusing};
  beast::tcp_stream stream{std::move(socket)};
  if (st->counters.connections_refusing.load() <= max_refusing) {
    auto r = refused(st->opts, refusal::overloaded,
                     "the node has --max-connections=" + std::to_string(st->opts.max_connections)
                       + " connections open; retry later");
    r.close = true;
    access_entry unread;  // refused before any request was read
    unread.peer = peer_of(stream);
    if (co_await write_response(*st, stream, 11, false, r, unread))
      co_await linger_close(stream, refusal_linger, max_buffered_bytes);
  }
  beast::error_code ec;
  stream.socket().close(ec);
}

} // namespace taskpipe::http
