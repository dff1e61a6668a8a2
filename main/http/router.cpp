#include "main/http/router.hpp"

#include "main/http/dashboard_page.hpp"
#include "main/http/request_text.hpp"

#include <charconv>
#include <iterator>
#include <limits>
#include <string_view>

namespace taskpipe::http {

namespace {

/// A whole number from `min` to `max` in `value`, else nullopt.
std::optional<std::int64_t> whole_number(const std::string& value, std::int64_t min,
                                         std::int64_t max) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < min
      || n > max)
    return std::nullopt;
  return n;
}

/// Parses the query of a route: `wait` on POST /v1/batches, `after` and `limit` on
/// GET /v1/batches/{id}/failures; other routes take none.
std::optional<response> parse_query(std::string_view query, plan& p) {
  bool seen_wait = false;
  bool seen_after = false;
  bool seen_limit = false;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty())
      continue;
    auto eq = item.find('=');
    std::string name;
    std::string value;
    if (!percent_decode(item.substr(0, eq), name)
        || (eq != std::string_view::npos && !percent_decode(item.substr(eq + 1), value)))
      return bad_request("query parameter " + quoted(item) + " is not valid percent-encoding");
    auto shown = eq == std::string_view::npos ? std::string{"no value"} : quoted(value);
    if (p.where == route::batch_failures && (name == "after" || name == "limit")) {
      auto& seen = name == "after" ? seen_after : seen_limit;
      if (seen)
        return bad_request("query parameter " + name + " given twice");
      seen = true;
      if (name == "after") {
        auto n = whole_number(value, 0, std::numeric_limits<std::int64_t>::max());
        if (eq == std::string_view::npos || !n)
          return bad_request("query parameter after must be a task id from 0 to "
                             "9223372036854775807, got " + shown);
        p.after = *n;
      } else {
        auto n = whole_number(value, 1, static_cast<std::int64_t>(max_failure_page));
        if (eq == std::string_view::npos || !n)
          return bad_request("query parameter limit must be a whole number from 1 to "
                             + std::to_string(max_failure_page) + ", got " + shown);
        p.limit = static_cast<std::uint64_t>(*n);
      }
      continue;
    }
    if (p.where != route::submit || name != "wait")
      return bad_request("unknown query parameter " + quoted(name)
                         + (p.where == route::submit           ? "; the only one is wait=true|false"
                            : p.where == route::batch_failures ? "; the known ones are after and limit"
                                                               : "; this endpoint takes none"));
    if (seen_wait)
      return bad_request("query parameter wait given twice");
    seen_wait = true;
    if (eq == std::string_view::npos || (value != "true" && value != "false"))
      return bad_request("query parameter wait must be true or false, got " + shown);
    p.wait = value == "true";
  }
  return std::nullopt;
}

/// "/v1/batches/{x}/failures" -> "x" (one non-empty segment), else nullopt.
std::optional<std::string_view> failures_path(std::string_view path) {
  constexpr std::string_view prefix = "/v1/batches/";
  constexpr std::string_view suffix = "/failures";
  if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix
      || path.substr(path.size() - suffix.size()) != suffix)
    return std::nullopt;
  auto id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (id.find('/') != std::string_view::npos)
    return std::nullopt;
  return id;
}

/// "/v1/batches/{x}" -> "x" (one non-empty segment), else nullopt.
std::optional<std::string_view> segment_after(std::string_view path, std::string_view prefix) {
  if (path.size() <= prefix.size() || path.substr(0, prefix.size()) != prefix
      || path.find('/', prefix.size()) != std::string_view::npos)
    return std::nullopt;
  return path.substr(prefix.size());
}

/// The dashboard's routes (all GET).
std::optional<route> dashboard_route(std::string_view path) {
  if (path == "/")
    return route::dashboard;
  if (path == "/v1/stats")
    return route::stats;
  if (path == "/v1/events")
    return route::events;
  return std::nullopt;
}

/// 404/405: which route the method and path name.
std::optional<response> find_route(const bhttp::request_header<>& head, std::string_view path,
                                   plan& p) {
  auto method = head.method();
  auto method_text = sv(head.method_string());
  auto not_allowed = [&](std::string allow) {
    return method_not_allowed(method, method_text, path, std::move(allow));
  };
  // HEAD is GET without the body (the session leaves it out).
  bool get = method == bhttp::verb::get || method == bhttp::verb::head;
  if (path == "/v1/batches") {
    if (method != bhttp::verb::post)
      return not_allowed("POST");
    p.where = route::submit;
  } else if (auto failures_of = failures_path(path)) {
    if (!get)
      return not_allowed("GET");
    p.where = route::batch_failures;
    p.batch_id = std::string{*failures_of};
  } else if (auto id = segment_after(path, "/v1/batches/")) {
    if (get)
      p.where = route::batch_status;
    else if (method == bhttp::verb::delete_)
      p.where = route::batch_cancel;
    else
      return not_allowed("GET, DELETE");
    p.batch_id = std::string{*id};
  } else if (auto task = segment_after(path, "/v1/tasks/")) {
    if (!get)
      return not_allowed("GET");
    p.where = route::task;
    p.task_text = std::string{*task};
  } else if (path == "/healthz" || path == "/metrics" || path == "/v1/openapi.json") {
    if (!get)
      return not_allowed("GET");
    p.where = path == "/healthz" ? route::healthz
              : path == "/metrics" ? route::metrics
                                   : route::openapi;
  } else if (auto dashboard = dashboard_route(path)) {
    if (!get)
      return not_allowed("GET");
    p.where = *dashboard;
  } else {
    return no_such_path(path);
  }
  return std::nullopt;
}

/// 400: an Idempotency-Key must be 1 to 255 printable ASCII bytes (space to '~'), given once.
std::optional<response> parse_idempotency_key(const bhttp::request_header<>& head, plan& p) {
  auto [first, last] = head.equal_range("Idempotency-Key");
  if (first == last)
    return std::nullopt;
  if (std::next(first) != last)
    return bad_request("Idempotency-Key is given more than once");
  auto key = sv(first->value());
  if (key.empty() || key.size() > max_idempotency_key_bytes)
    return bad_request("Idempotency-Key must be 1 to 255 bytes, got "
                       + std::to_string(key.size()));
  for (char c : key)
    if (c < 0x20 || c > 0x7e)
      return bad_request("Idempotency-Key must be printable ASCII");
  p.idempotency_key = std::string{key};
  return std::nullopt;
}

/// 415: the media type must be application/json; parameters (charset) are fine.
std::optional<response> check_content_type(const bhttp::request_header<>& head) {
  auto it = head.find(bhttp::field::content_type);
  if (it == head.end())
    return error_response(bhttp::status::unsupported_media_type, "unsupported_media_type",
                          "Content-Type must be application/json; the request has none");
  auto value = sv(it->value());
  auto media = trim(value.substr(0, value.find(';')));
  if (!iequals(media, json_type))
    return error_response(bhttp::status::unsupported_media_type, "unsupported_media_type",
                          "Content-Type must be application/json, got " + quoted(value));
  return std::nullopt;
}

} // namespace

routing route_request(const bhttp::request_header<>& head, const framing& body,
                      const server_options& opts) {
  auto target = sv(head.target());
  auto qpos = target.find('?');
  auto path = target.substr(0, qpos);
  auto query = qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);

  // RFC 9112 6.3: a Transfer-Encoding without chunked last leaves the body's end unknown.
  if (auto te = head.find(bhttp::field::transfer_encoding); te != head.end() && !body.chunked) {
    auto r = bad_request("Transfer-Encoding must end in chunked, got " + quoted(sv(te->value())));
    r.close = true;
    return r;
  }
  if (!opts.api_token.empty() && path != "/healthz") {
    auto it = head.find(bhttp::field::authorization);
    if (it == head.end() || !bearer_token_matches(sv(it->value()), opts.api_token)) {
      // A browser cannot send the token when it navigates: the 401 of the page is the page,
      // which holds no data and asks for the token.
      bool page = path == "/"
                  && (head.method() == bhttp::verb::get || head.method() == bhttp::verb::head);
      return page ? dashboard_page(bhttp::status::unauthorized) : unauthorized(it == head.end());
    }
  }
  plan p;
  if (auto err = find_route(head, path, p))
    return std::move(*err);
  if (auto err = parse_query(query, p))
    return std::move(*err);
  if (p.where != route::submit) {
    p.body_limit = max_bodiless_body_bytes;
    if (body.content_length && *body.content_length > p.body_limit)
      return body_not_taken(p.body_limit);
    return p;
  }
  if (auto err = parse_idempotency_key(head, p))
    return std::move(*err);
  if (auto err = check_content_type(head))
    return std::move(*err);
  if (body.content_length && *body.content_length > opts.max_body_bytes)
    return body_too_large(opts.max_body_bytes);
  p.body_limit = opts.max_body_bytes;
  auto expect = head.find(bhttp::field::expect);
  p.expect_continue = expect != head.end() && iequals(sv(expect->value()), "100-continue");
  return p;
}

} // namespace taskpipe::http
