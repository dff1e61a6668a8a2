// The handlers: a routed request (its plan and body) in, a response out. They talk to the node
// through the backend and never touch a socket; the session reads and writes.
#pragma once

#include "main/http/front_state.hpp"
#include "main/http/request_body.hpp"
#include "main/http/responses.hpp"
#include "main/http/router.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>

namespace taskpipe::http {

/// Answers a request the router planned, once its body (if any) is read. The body (and what it
/// holds of the budget) is dropped as soon as it is decoded. Large bodies are decoded on the
/// front's worker pool; small ones right here (a hop costs more). Reports arrive rendered (the
/// coordinator renders each finished one once): an answer shares that text.
boost::asio::awaitable<response> answer(front_state& st, const plan& p, request_body body);

/// Bodies up to this size are decoded on the I/O thread.
inline constexpr std::size_t max_inline_decode_bytes = 64 * 1024;

} // namespace taskpipe::http
