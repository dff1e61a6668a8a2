// The answers of the HTTP front before they become Beast messages: JSON bodies, the contract's
// whole-request errors, and how the coordinator's refusals map onto statuses.
#pragma once

#include "main/http/json_writer.hpp"
#include "main/http/server_options.hpp"
#include "messages/outcome.hpp"
#include "messages/report.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/optional.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskpipe::http {

namespace bhttp = boost::beast::http;

inline constexpr std::string_view json_type = "application/json";

/// One response.
struct response {
  bhttp::status status = bhttp::status::ok;
  std::string body;  ///< the body; or its first part when `shared` follows
  /// A large report's text shared by every reader (`shared_owner` keeps it alive), then `tail`:
  /// written from the one copy, never copied per request.
  shared_report shared_owner;
  std::string_view shared;
  std::string tail;
  std::string content_type{json_type};
  std::vector<std::pair<bhttp::field, std::string>> headers;
  /// Headers Beast has no field constant for (Content-Security-Policy, ...).
  std::vector<std::pair<std::string, std::string>> named_headers;
  bool close = false;  ///< close the connection after writing
};

response json_response(bhttp::status status, std::string body);
response json_response(bhttp::status status, json_parts body);

/// {"error":"<code>","detail":"<detail>"}
response error_response(bhttp::status status, std::string_view code, std::string_view detail);

/// 401 with WWW-Authenticate; `missing`: no Authorization header at all.
response unauthorized(bool missing);

/// 404 for a path the API does not have.
response no_such_path(std::string_view path);

/// 405 with the Allow header.
response method_not_allowed(bhttp::verb method, std::string_view method_text,
                            std::string_view path, std::string allow);

/// 400 for a malformed request (`detail` says what is wrong).
response bad_request(std::string_view detail);

/// 413 for a body over --max-body-bytes.
response body_too_large(std::uint64_t max_body_bytes);

/// 400 for a body over the limit of a route that takes none.
response body_not_taken(std::uint64_t limit);

/// The coordinator refused (overloaded, batch_too_large, unknown_batch, shutting_down).
response refused(const server_options& opts, refusal why, std::string_view detail);

/// 503 shutting_down with Retry-After.
response shutting_down(const server_options& opts);

/// The node did not answer (actor gone, timeout): 500 internal, or 503 while draining.
response failed(const server_options& opts, bool draining, std::string_view detail);

/// The Beast body of a response: its three parts as three buffers (the shared one not copied).
struct parts_body {
  struct value_type {
    std::string head;
    shared_report owner;
    std::string_view shared;
    std::string tail;

    void clear() {
      *this = value_type{};
    }
  };

  static std::uint64_t size(const value_type& v) {
    return v.head.size() + v.shared.size() + v.tail.size();
  }

  class writer {
  public:
    using const_buffers_type = std::array<boost::asio::const_buffer, 3>;

    template <bool isRequest, class Fields>
    writer(const bhttp::header<isRequest, Fields>&, const value_type& body) : body_(body) {
    }

    void init(boost::beast::error_code& ec) {
      ec = {};
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (done_)
        return boost::none;
      done_ = true;
      return std::pair<const_buffers_type, bool>{
        const_buffers_type{boost::asio::buffer(body_.head),
                           boost::asio::buffer(body_.shared.data(), body_.shared.size()),
                           boost::asio::buffer(body_.tail)},
        false};
    }

  private:
    const value_type& body_;
    bool done_ = false;
  };
};

/// The Beast message of a response (Server, Content-Type, Content-Length, Connection set).
bhttp::response<parts_body> to_message(response&& r, unsigned version, bool keep_alive);

} // namespace taskpipe::http
