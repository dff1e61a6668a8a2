#include "main/http/session.hpp"

#include "main/http/handlers.hpp"
#include "main/http/responses.hpp"
#include "main/http/router.hpp"

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
constexpr std::size_t max_linger_bytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds linger_time{2};
constexpr std::chrono::seconds write_timeout{60};

using request_parser = bhttp::request_parser<bhttp::string_body>;

bool is_disconnect(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof
         || ec == asio::error::connection_reset || ec == asio::error::operation_aborted
         || ec == asio::error::broken_pipe || ec == beast::error::timeout
         || ec == asio::error::not_connected || ec == asio::error::bad_descriptor;
}

/// Writes a response; false if the connection broke.
asio::awaitable<bool> write_response(front_state& st, beast::tcp_stream& stream, unsigned version,
                                     bool keep_alive, response& r) {
  st.counters.count_response(static_cast<unsigned>(r.status));
  auto res = to_message(std::move(r), version, keep_alive);
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

/// Answers an error decided before the body was read (or while reading it). A body left unread
/// means the connection cannot be reused: close it after a lingering read. Returns whether the
/// connection stays open.
asio::awaitable<bool> answer_early(front_state& st, beast::tcp_stream& stream, bool body_unread,
                                   unsigned version, bool keep, response& r) {
  if (body_unread)
    r.close = true;
  bool ok = co_await write_response(st, stream, version, keep && !st.draining.load(), r);
  if (body_unread && ok)
    co_await linger_close(stream);
  co_return ok && keep && !body_unread && !st.draining.load();
}

/// Handles one request whose header was read. Returns whether the connection stays open.
asio::awaitable<bool> handle_request(front_state& st, beast::tcp_stream& stream,
                                     beast::flat_buffer& buffer, request_parser& parser) {
  counter_guard in_progress{st.counters.requests_in_progress};
  auto& req = parser.get();
  unsigned version = req.version();
  bool keep = req.keep_alive();
  framing body;
  if (auto length = parser.content_length())
    body.content_length = *length;
  body.chunked = parser.chunked();
  auto routed = route_request(req, body, st.opts);
  if (auto* err = std::get_if<response>(&routed)) {
    bool open = co_await answer_early(st, stream, !parser.is_done(), version, keep, *err);
    co_return open;
  }
  auto& p = std::get<plan>(routed);
  beast::error_code ec;
  if (!parser.is_done()) {
    parser.body_limit(p.body_limit);
    if (p.expect_continue) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
      stream.expires_after(write_timeout);
      co_await bhttp::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
      if (ec)
        co_return false;
    }
    stream.expires_after(st.opts.body_timeout);
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::body_limit) {
      response r = p.where == route::submit ? body_too_large(st.opts.max_body_bytes)
                                            : body_not_taken(p.body_limit);
      bool open = co_await answer_early(st, stream, true, version, keep, r);
      co_return open;
    }
    if (ec) {
      if (!is_disconnect(ec)) {
        response r = bad_request("malformed HTTP body: " + ec.message());
        co_await answer_early(st, stream, true, version, keep, r);
      }
      co_return false;
    }
  }
  stream.expires_never();
  response r = co_await answer(st, p, std::move(parser.get().body()));
  bool ok = co_await write_response(st, stream, version, keep && !st.draining.load(), r);
  co_return ok && keep && !st.draining.load();
}

} // namespace

asio::awaitable<void> session(front_state* st, tcp::socket socket) {
  counter_guard open{st->counters.connections_open};
  beast::tcp_stream stream{std::move(socket)};
  beast::flat_buffer buffer;
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
          if (co_await write_response(*st, stream, 11, false, r))
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

} // namespace taskpipe::http
