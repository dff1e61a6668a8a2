// The client commands' HTTP/1.1 client (Boost.Beast): one connection per request, every step
// bounded in time, and failures told apart by whether the node may have seen the request.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace taskpipe::client {

/// `http://HOST[:PORT][/PATH]` (HOST a name, an IPv4 address or [IPv6]; PORT default 80).
struct url {
  std::string host;
  std::uint16_t port = 80;
  std::string base;  ///< the path prefix without its trailing '/', usually ""

  std::string text() const;  ///< as given, normalised: http://HOST:PORT/PATH
};

/// Throws std::invalid_argument saying what is wrong.
url parse_url(const std::string& text);

struct response {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lowercase names
  std::string body;

  std::string header(const std::string& lowercase_name) const;
};

/// A request that got no complete answer.
struct transport_error : std::runtime_error {
  enum class kind {
    unreachable,  ///< no connection: the node cannot have seen the request
    dropped,      ///< connected, then closed or reset before a whole answer: it may have
    timeout,      ///< no whole answer in time: it may have
  };
  transport_error(kind k, const std::string& what) : std::runtime_error(what), why(k) {
  }
  kind why;
};

struct request {
  std::string method = "GET";
  std::string target;  ///< path and query, appended to the URL's base
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Sends `req` to `where` on a fresh connection and reads the whole answer. Throws
/// transport_error.
response send(const url& where, const request& req,
              std::chrono::milliseconds connect_timeout = std::chrono::seconds{5},
              std::chrono::milliseconds answer_timeout = std::chrono::seconds{120});

} // namespace taskpipe::client
