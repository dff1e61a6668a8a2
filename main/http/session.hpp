// One HTTP connection: reads each request's header, asks the router, answers the router's
// errors (closing when a body is left unread), reads the body within the plan's limit, lets the
// handlers answer, and writes the response. Keep-alive, timeouts and lingering close live here.
#pragma once

#include "main/http/front_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace taskpipe::http {

/// Serves a connection the listener accepted (and counted in connections_open).
boost::asio::awaitable<void> session(front_state* st, boost::asio::ip::tcp::socket socket);

/// Answers a connection over --max-connections with 503 overloaded and closes it.
boost::asio::awaitable<void> refuse_connection(front_state* st,
                                               boost::asio::ip::tcp::socket socket);

} // namespace taskpipe::http
