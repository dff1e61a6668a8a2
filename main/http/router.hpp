// The router: what a request's head (method, path, query, headers) asks for, or the
// whole-request error it already causes, in the contract's order. Pure: no I/O, no backend, no
// clock; the session calls it once the header is read, before any body byte is read.
#pragma once

#include "main/http/responses.hpp"
#include "main/http/server_options.hpp"
#include "messages/report.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace taskpipe::http {

enum class route : std::uint8_t {
  submit, batch_status, batch_cancel, batch_failures, task, healthz, metrics, openapi,
  dashboard, stats, events,  // GET /, GET /v1/stats, GET /v1/events (the dashboard)
};

/// Most body bytes a route other than POST /v1/batches reads (and ignores).
inline constexpr std::uint64_t max_bodiless_body_bytes = 64 * 1024;

/// How the body is framed, as the HTTP parser read it from the header.
struct framing {
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
};

/// What the session does with a request that passed the router's checks.
struct plan {
  route where = route::healthz;
  bool wait = true;            ///< POST /v1/batches: ?wait=true (the default) or false
  std::string batch_id;        ///< batch routes: the id as written in the path
  std::int64_t after = 0;      ///< GET /v1/batches/{id}/failures: ?after=ID (0: from the first)
  std::uint64_t limit = default_failure_page;  ///< and ?limit=N (1 to max_failure_page)
  std::string task_text;       ///< GET /v1/tasks/{id}: the id as written in the path
  std::uint64_t body_limit = 0;  ///< most body bytes the session may read
  bool expect_continue = false;  ///< the client asked for 100 Continue before it sends the body
  std::string idempotency_key;   ///< POST /v1/batches: its Idempotency-Key; "" for none
};

/// Longest Idempotency-Key accepted (the contract's 255 bytes).
inline constexpr std::size_t max_idempotency_key_bytes = 255;

/// A plan, or the error response that ends the request.
using routing = std::variant<plan, response>;

/// Checks, in this order: 400 for framing the parser cannot trust (a Transfer-Encoding whose
/// last coding is not chunked: the request's end is unknown, so this closes the connection),
/// 401 (token; GET / answers its 401 with the dashboard page, whose login form asks for the
/// token), 404/405 (path, method; HEAD goes where GET goes), 400 (query), a Content-Length
/// over the route's body limit (400 on routes that take no body), and for POST /v1/batches 400
/// (an Idempotency-Key that is not 1-255 printable ASCII bytes), 415
/// (Content-Type) and 413 (a Content-Length over --max-body-bytes). Errors that leave a body
/// unread close the connection (the session sees to it).
routing route_request(const bhttp::request_header<>& head, const framing& body,
                      const server_options& opts);

} // namespace taskpipe::http
