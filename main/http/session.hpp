// One HTTP connection: reads each request's header, asks the router, answers the router's
// errors (closing when a body is left unread), reads the body within the plan's limit, lets the
// handlers answer, and writes the response. Keep-alive, timeouts and lingering close live here.
#pragma once

#include "main/http/front_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace taskpipe::http {

boost::asio::awaitable<void> session(front_state* st, boost::asio::ip::tcp::socket socket);

} // namespace taskpipe::http
