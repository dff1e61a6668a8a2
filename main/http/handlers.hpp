// The handlers: a routed request (its plan and body) in, a response out. They talk to the node
// through the backend and never touch a socket; the session reads and writes.
#pragma once

#include "main/http/front_state.hpp"
#include "main/http/responses.hpp"
#include "main/http/router.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace taskpipe::http {

/// Answers a request the router planned, once its body (if any) is read.
boost::asio::awaitable<response> answer(front_state& st, const plan& p, std::string body);

} // namespace taskpipe::http
