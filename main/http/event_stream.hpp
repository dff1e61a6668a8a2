// GET /v1/events: server-sent events, one `stats` event per new dashboard snapshot (one a second).
// Beast has no SSE support: the header goes out alone (chunked, no Content-Length), then each
// event as one chunk. The stream ends when the node drains (so shutdown never waits for it), when
// a write fails or stalls, or when the front stops; the client reconnects after `retry`.
#pragma once

#include "main/http/access_log.hpp"
#include "main/http/front_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>

namespace taskpipe::http {

/// How often a stream looks for a new snapshot.
inline constexpr std::chrono::milliseconds event_poll{100};
/// What the client is told to wait before it reconnects (the `retry:` field).
inline constexpr std::chrono::milliseconds event_retry{2000};

/// Streams events until one of the ends above; the connection is not reused afterwards.
boost::asio::awaitable<void> stream_events(front_state& st, boost::beast::tcp_stream& stream,
                                           unsigned version, const access_entry& access);

} // namespace taskpipe::http
