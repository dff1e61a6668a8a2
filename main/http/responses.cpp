#include "main/http/responses.hpp"

#include "main/http/json_writer.hpp"
#include "main/http/request_text.hpp"

namespace taskpipe::http {

response json_response(bhttp::status status, std::string body) {
  response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

response json_response(bhttp::status status, json_parts body) {
  response r;
  r.status = status;
  r.body = std::move(body.head);
  r.shared_owner = std::move(body.owner);
  r.shared = body.shared;
  r.tail = std::move(body.tail);
  return r;
}

response error_response(bhttp::status status, std::string_view code, std::string_view detail) {
  return json_response(status, error_json(code, detail));
}

response unauthorized(bool missing) {
  auto r = error_response(bhttp::status::unauthorized, "unauthorized",
                          missing ? "missing Authorization: Bearer <token> header"
                                  : "the Authorization header does not hold the API token");
  r.headers.emplace_back(bhttp::field::www_authenticate, "Bearer realm=\"taskpipe\"");
  return r;
}

response no_such_path(std::string_view path) {
  return error_response(bhttp::status::not_found, "not_found",
                        "no such path: " + quoted(path)
                          + "; the API has POST /v1/batches, GET|DELETE /v1/batches/{id}, "
                            "GET /v1/batches/{id}/failures, GET /v1/tasks/{id}, GET /healthz, GET /metrics and GET /v1/openapi.json");
}

response method_not_allowed(bhttp::verb method, std::string_view method_text,
                            std::string_view path, std::string allow) {
  auto r = error_response(bhttp::status::method_not_allowed, "method_not_allowed",
                          "method "
                            + (method == bhttp::verb::unknown
                                 ? quoted(method_text)
                                 : std::string{bhttp::to_string(method)})
                            + " is not allowed on " + std::string{path} + "; allowed: " + allow);
  r.headers.emplace_back(bhttp::field::allow, std::move(allow));
  return r;
}

response bad_request(std::string_view detail) {
  return error_response(bhttp::status::bad_request, "bad_request", detail);
}

response body_too_large(std::uint64_t max_body_bytes) {
  return error_response(bhttp::status::payload_too_large, "batch_too_large",
                        "the body is over --max-body-bytes=" + std::to_string(max_body_bytes)
                          + " bytes");
}

response body_not_taken(std::uint64_t limit) {
  return bad_request("this endpoint takes no body; got more than " + std::to_string(limit)
                     + " bytes");
}

response refused(const server_options& opts, refusal why, std::string_view detail) {
  switch (why) {
    case refusal::overloaded: {
      auto out = error_response(bhttp::status::service_unavailable, "overloaded", detail);
      out.headers.emplace_back(bhttp::field::retry_after,
                               std::to_string(opts.retry_after_overloaded.count()));
      return out;
    }
    case refusal::batch_too_large:
      return error_response(bhttp::status::payload_too_large, "batch_too_large", detail);
    case refusal::unknown_batch:
      return error_response(bhttp::status::not_found, "not_found", detail);
    case refusal::idempotency_key_reused:
      return error_response(bhttp::status::unprocessable_entity, "idempotency_key_reused",
                            detail);
    case refusal::shutting_down:
      break;
  }
  auto out = error_response(bhttp::status::service_unavailable, "shutting_down", detail);
  out.headers.emplace_back(bhttp::field::retry_after,
                           std::to_string(opts.retry_after_shutting_down.count()));
  return out;
}

response shutting_down(const server_options& opts) {
  return refused(opts, refusal::shutting_down, "the node is draining and admits no new batches");
}

response failed(const server_options& opts, bool draining, std::string_view detail) {
  if (draining)
    return shutting_down(opts);
  return error_response(bhttp::status::internal_server_error, "internal", detail);
}

bhttp::response<parts_body> to_message(response&& r, unsigned version, bool keep_alive) {
  bhttp::response<parts_body> res{r.status, version};
  res.set(bhttp::field::server, "taskpipe");
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [field, value] : r.headers)
    res.set(field, value);
  for (auto& [name, value] : r.named_headers)
    res.set(name, value);
  res.keep_alive(keep_alive && !r.close);
  res.body().head = std::move(r.body);
  res.body().owner = std::move(r.shared_owner);
  res.body().shared = r.shared;
  res.body().tail = std::move(r.tail);
  res.prepare_payload();
  return res;
}

} // namespace taskpipe::http
