#include "main/http/event_stream.hpp"

// g++ 12 pairs Asio's coroutine-frame operator new (its recycling allocator) with the wrong delete
// once a coroutine here awaits a timer, and warns; Asio allocates and frees the frame with the
// matching pair (a known false positive of -Wmismatched-new-delete).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include <string>

namespace taskpipe::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

/// A write that takes longer than this means the client stopped reading: the stream ends.
constexpr std::chrono::seconds event_write_timeout{10};

std::string event_text(const stats_frame& frame, bool first) {
  std::string out;
  out.reserve(frame.json.size() + 64);
  if (first)
    out += "retry: " + std::to_string(event_retry.count()) + "\n";
  out += "id: " + std::to_string(frame.seq) + "\nevent: stats\ndata: ";
  out += frame.json;  // one line: the JSON writer emits no newline
  out += "\n\n";
  return out;
}

} // namespace

asio::awaitable<void> stream_events(front_state& st, beast::tcp_stream& stream, unsigned version,
                                    const access_entry& access) {
  bhttp::response<bhttp::empty_body> res{bhttp::status::ok, version};
  res.set(bhttp::field::server, "taskpipe");
  res.set(bhttp::field::content_type, "text/event-stream; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  res.set("X-Accel-Buffering", "no");  // proxies must not buffer the stream
  bool chunked = version >= 11;
  if (chunked)
    res.chunked(true);
  else
    res.keep_alive(false);  // HTTP/1.0: the stream ends with the connection
  st.counters.count_response(200);
  beast::error_code ec;
  std::size_t bytes = 0;
  bhttp::response_serializer<bhttp::empty_body> head{res};
  stream.expires_after(event_write_timeout);
  co_await bhttp::async_write_header(stream, head, asio::redirect_error(asio::use_awaitable, ec));
  asio::steady_timer timer{stream.get_executor()};
  std::uint64_t sent = 0;
  while (!ec && !st.draining.load()) {
    auto frame = st.stats ? st.stats->latest() : nullptr;
    if (frame && frame->seq != sent) {
      auto text = event_text(*frame, sent == 0);
      sent = frame->seq;
      bytes += text.size();
      stream.expires_after(event_write_timeout);
      if (chunked)
        co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(text)),
                                   asio::redirect_error(asio::use_awaitable, ec));
      else
        co_await asio::async_write(stream, asio::buffer(text),
                                   asio::redirect_error(asio::use_awaitable, ec));
      stream.expires_never();
      continue;
    }
    timer.expires_after(event_poll);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!ec && chunked) {
    stream.expires_after(event_write_timeout);
    co_await asio::async_write(stream, bhttp::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  log_access(access, 200, {}, bytes);
}

} // namespace taskpipe::http
