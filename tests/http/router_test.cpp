// The router without sockets: a request head in, a plan or the contract's error out, checked in
// the contract's order (401, 404/405, 400 query, 415, 413).
#include "main/http/router.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace taskpipe::http;
using json = nlohmann::json;

namespace {

struct head {
  bhttp::request_header<> req;
  framing body;

  head(bhttp::verb method, std::string target) {
    req.method(method);
    req.target(target);
    req.version(11);
  }
  head& with(bhttp::field f, std::string value) {
    req.set(f, value);
    return *this;
  }
  head& json_body(std::uint64_t length) {
    req.set(bhttp::field::content_type, "application/json");
    body.content_length = length;
    return *this;
  }
  routing route(const server_options& opts = {}) const {
    return route_request(req, body, opts);
  }
};

plan planned(const routing& r) {
  if (auto* err = std::get_if<response>(&r))
    FAIL("expected a plan, got " << static_cast<unsigned>(err->status) << " " << err->body);
  return std::get<plan>(r);
}

/// The error response: status, code, a detail holding `needle`.
response refused_with(const routing& r, unsigned status, const std::string& code,
                      const std::string& needle = "") {
  REQUIRE(std::holds_alternative<response>(r));
  auto& res = std::get<response>(r);
  INFO(res.body);
  CHECK(static_cast<unsigned>(res.status) == status);
  auto j = json::parse(res.body);
  CHECK(j["error"] == code);
  CHECK(j["detail"].get<std::string>().find(needle) != std::string::npos);
  return res;
}

std::optional<std::string> header(const response& r, bhttp::field f) {
  for (auto& [name, value] : r.headers)
    if (name == f)
      return value;
  return std::nullopt;
}

server_options with_token(std::string token) {
  server_options o;
  o.api_token = std::move(token);
  return o;
}

} // namespace

TEST_CASE("router: every route and what it plans", "[http][router]") {
  auto p = planned(head{bhttp::verb::post, "/v1/batches"}.json_body(10).route());
  CHECK(p.where == route::submit);
  CHECK(p.wait);
  CHECK(p.body_limit == server_options{}.max_body_bytes);
  CHECK(!p.expect_continue);
  p = planned(head{bhttp::verb::post, "/v1/batches?wait=false"}.json_body(10).route());
  CHECK(!p.wait);
  p = planned(head{bhttp::verb::post, "/v1/batches?wait=%74rue&"}.json_body(10).route());
  CHECK(p.wait);
  p = planned(head{bhttp::verb::get, "/v1/batches/b-0000000000000001"}.route());
  CHECK(p.where == route::batch_status);
  CHECK(p.batch_id == "b-0000000000000001");
  CHECK(p.body_limit == max_bodiless_body_bytes);
  p = planned(head{bhttp::verb::delete_, "/v1/batches/anything"}.route());
  CHECK(p.where == route::batch_cancel);
  CHECK(p.batch_id == "anything");  // its form is the handler's 404
  p = planned(head{bhttp::verb::get, "/v1/tasks/abc"}.route());
  CHECK(p.where == route::task);
  CHECK(p.task_text == "abc");
  CHECK(planned(head{bhttp::verb::get, "/healthz"}.route()).where == route::healthz);
  CHECK(planned(head{bhttp::verb::get, "/metrics"}.route()).where == route::metrics);
}

TEST_CASE("router: 404 for unknown paths, 405 with Allow for wrong methods", "[http][router]") {
  for (auto path : {"/index.html", "/v1/batchesx", "/v1/batches/", "/v1/batches/b-1/x", "/v1/tasks/",
                    "/healthz/", "/v2/batches"})
    refused_with(head{bhttp::verb::get, path}.route(), 404, "not_found", path);
  auto r = refused_with(head{bhttp::verb::get, "/v1/batches"}.route(), 405,
                        "method_not_allowed", "GET");
  CHECK(header(r, bhttp::field::allow) == "POST");
  r = refused_with(head{bhttp::verb::put, "/v1/batches/b-1"}.route(), 405, "method_not_allowed",
                   "PUT");
  CHECK(header(r, bhttp::field::allow) == "GET, DELETE");
  r = refused_with(head{bhttp::verb::post, "/v1/tasks/1"}.json_body(2).route(), 405,
                   "method_not_allowed", "POST");
  CHECK(header(r, bhttp::field::allow) == "GET");
  refused_with(head{bhttp::verb::delete_, "/healthz"}.route(), 405, "method_not_allowed",
               "DELETE");
  refused_with(head{bhttp::verb::post, "/metrics"}.route(), 405, "method_not_allowed", "POST");
  // A method Beast does not know is quoted as sent.
  head odd{bhttp::verb::get, "/healthz"};
  odd.req.method_string("BREW");
  refused_with(odd.route(), 405, "method_not_allowed", "\"BREW\"");
}

TEST_CASE("router: 400 for query parameters", "[http][router]") {
  auto post = [](std::string target) {
    return head{bhttp::verb::post, std::move(target)}.json_body(2).route();
  };
  refused_with(post("/v1/batches?wait=maybe"), 400, "bad_request", "maybe");
  refused_with(post("/v1/batches?wait="), 400, "bad_request", "wait");
  refused_with(post("/v1/batches?wait"), 400, "bad_request", "no value");
  refused_with(post("/v1/batches?wait=TRUE"), 400, "bad_request", "TRUE");
  refused_with(post("/v1/batches?wait=true&wait=false"), 400, "bad_request", "twice");
  refused_with(post("/v1/batches?wiat=false"), 400, "bad_request", "wiat");
  refused_with(post("/v1/batches?wait=%zz"), 400, "bad_request", "percent");
  refused_with(head{bhttp::verb::get, "/healthz?verbose=1"}.route(), 400, "bad_request",
               "takes none");
  refused_with(head{bhttp::verb::get, "/v1/tasks/1?wait=true"}.route(), 400, "bad_request",
               "wait");
}

TEST_CASE("router: 415 unless application/json", "[http][router]") {
  auto typed = [](const std::string& type) {
    head h{bhttp::verb::post, "/v1/batches"};
    h.body.content_length = 12;
    if (!type.empty())
      h.with(bhttp::field::content_type, type);
    return h.route();
  };
  refused_with(typed(""), 415, "unsupported_media_type", "has none");
  refused_with(typed("text/plain"), 415, "unsupported_media_type", "text/plain");
  refused_with(typed("application/jsonx"), 415, "unsupported_media_type", "jsonx");
  for (auto ok : {"application/json", "application/json; charset=utf-8",
                  "Application/JSON;charset=UTF-8", " application/json "})
    CHECK(std::holds_alternative<plan>(typed(ok)));
  // Other routes do not look at the Content-Type.
  CHECK(std::holds_alternative<plan>(head{bhttp::verb::get, "/v1/tasks/1"}.route()));
}

TEST_CASE("router: 413 by Content-Length before the body, and 100-continue", "[http][router]") {
  server_options o;
  o.max_body_bytes = 1000;
  CHECK(planned(head{bhttp::verb::post, "/v1/batches"}.json_body(1000).route(o)).body_limit
        == 1000);
  refused_with(head{bhttp::verb::post, "/v1/batches"}.json_body(1001).route(o), 413,
               "batch_too_large", "--max-body-bytes=1000");
  // Chunked: no length yet; the session reads within body_limit.
  head chunked{bhttp::verb::post, "/v1/batches"};
  chunked.with(bhttp::field::content_type, "application/json");
  chunked.body.chunked = true;
  CHECK(planned(chunked.route(o)).body_limit == 1000);
  auto h = head{bhttp::verb::post, "/v1/batches"}.json_body(10);
  h.with(bhttp::field::expect, "100-Continue");
  CHECK(planned(h.route(o)).expect_continue);
  // Expect on a refused request: the refusal is the answer (no 100 Continue).
  auto big = head{bhttp::verb::post, "/v1/batches"}.json_body(5000);
  big.with(bhttp::field::expect, "100-continue");
  refused_with(big.route(o), 413, "batch_too_large");
}

TEST_CASE("router: the contract's order 401, 404/405, 400, 415, 413", "[http][router]") {
  auto o = with_token("s3cret");
  o.max_body_bytes = 10;
  auto authorized = [](head h) {
    h.with(bhttp::field::authorization, "Bearer s3cret");
    return h;
  };
  // Everything wrong at once: the token decides first.
  head all_wrong{bhttp::verb::post, "/nope?wait=maybe"};
  all_wrong.with(bhttp::field::content_type, "text/plain").body.content_length = 100;
  auto r = refused_with(all_wrong.route(o), 401, "unauthorized", "missing");
  CHECK(header(r, bhttp::field::www_authenticate)->rfind("Bearer", 0) == 0);
  refused_with(authorized(all_wrong).route(o), 404, "not_found", "/nope");
  head wrong_method{bhttp::verb::patch, "/v1/batches?wait=maybe"};
  wrong_method.with(bhttp::field::content_type, "text/plain").body.content_length = 100;
  refused_with(authorized(wrong_method).route(o), 405, "method_not_allowed", "PATCH");
  head bad_query{bhttp::verb::post, "/v1/batches?wait=maybe"};
  bad_query.with(bhttp::field::content_type, "text/plain").body.content_length = 100;
  refused_with(authorized(bad_query).route(o), 400, "bad_request", "maybe");
  head bad_type{bhttp::verb::post, "/v1/batches"};
  bad_type.with(bhttp::field::content_type, "text/plain").body.content_length = 100;
  refused_with(authorized(bad_type).route(o), 415, "unsupported_media_type", "text/plain");
  refused_with(authorized(head{bhttp::verb::post, "/v1/batches"}.json_body(100)).route(o), 413,
               "batch_too_large");
  CHECK(std::holds_alternative<plan>(
    authorized(head{bhttp::verb::post, "/v1/batches"}.json_body(10)).route(o)));
}

TEST_CASE("router: the API token", "[http][router]") {
  auto o = with_token("s3cret-T0ken");
  auto with_auth = [&](const std::string& target, const std::string& value) {
    head h{bhttp::verb::get, target};
    if (!value.empty())
      h.with(bhttp::field::authorization, value);
    return h.route(o);
  };
  refused_with(with_auth("/v1/tasks/1", ""), 401, "unauthorized", "missing");
  for (auto bad : {"Bearer wrong", "Bearer s3cret-T0ke", "Bearer s3cret-T0ken2",
                   "Basic s3cret-T0ken", "s3cret-T0ken", "Bearer"})
    refused_with(with_auth("/v1/tasks/1", bad), 401, "unauthorized", "does not hold");
  CHECK(std::holds_alternative<plan>(with_auth("/v1/tasks/1", "Bearer s3cret-T0ken")));
  CHECK(std::holds_alternative<plan>(with_auth("/v1/tasks/1", "bearer \t s3cret-T0ken ")));
  // /healthz needs none, whatever else is wrong with the request after the token.
  CHECK(std::holds_alternative<plan>(with_auth("/healthz", "")));
  refused_with(with_auth("/healthz?x=1", ""), 400, "bad_request", "x");
  refused_with(with_auth("/metrics", ""), 401, "unauthorized");
}

TEST_CASE("router: a Transfer-Encoding not ending in chunked is 400, first, and closes",
          "[http][router]") {
  auto o = with_token("s3cret");
  for (auto te : {"gzip", "identity", "chunked, identity"}) {
    head h{bhttp::verb::post, "/nope"};
    h.with(bhttp::field::transfer_encoding, te);  // the parser did not find chunked last
    auto r = refused_with(h.route(o), 400, "bad_request", "Transfer-Encoding");
    CHECK(r.close);
  }
  head chunked{bhttp::verb::post, "/v1/batches"};
  chunked.with(bhttp::field::transfer_encoding, "gzip, chunked")
    .with(bhttp::field::content_type, "application/json")
    .body.chunked = true;
  CHECK(std::holds_alternative<plan>(chunked.route()));
}

TEST_CASE("router: HEAD goes where GET goes", "[http][router]") {
  CHECK(planned(head{bhttp::verb::head, "/healthz"}.route()).where == route::healthz);
  CHECK(planned(head{bhttp::verb::head, "/metrics"}.route()).where == route::metrics);
  CHECK(planned(head{bhttp::verb::head, "/v1/tasks/1"}.route()).where == route::task);
  CHECK(planned(head{bhttp::verb::head, "/v1/batches/b-1"}.route()).where == route::batch_status);
  auto r = refused_with(head{bhttp::verb::head, "/v1/batches"}.route(), 405,
                        "method_not_allowed", "HEAD");
  CHECK(header(r, bhttp::field::allow) == "POST");
}

TEST_CASE("router: every route's body limit is checked against Content-Length",
          "[http][router]") {
  for (auto target : {"/healthz", "/metrics", "/v1/tasks/1", "/v1/batches/b-1"}) {
    head h{bhttp::verb::get, target};
    h.body.content_length = max_bodiless_body_bytes;
    CHECK(planned(h.route()).body_limit == max_bodiless_body_bytes);
    h.body.content_length = max_bodiless_body_bytes + 1;
    refused_with(h.route(), 400, "bad_request", "takes no body");
    h.body.content_length = 1ULL << 40;
    refused_with(h.route(), 400, "bad_request", "takes no body");
  }
  // The token still comes first.
  head h{bhttp::verb::get, "/v1/tasks/1"};
  h.body.content_length = 1ULL << 40;
  refused_with(h.route(with_token("t")), 401, "unauthorized");
}

TEST_CASE("router: Idempotency-Key on POST /v1/batches is 1-255 printable ASCII bytes",
          "[http][router]") {
  auto keyed = [](std::vector<std::string> keys) {
    head h{bhttp::verb::post, "/v1/batches"};
    h.json_body(12);
    for (auto& k : keys)
      h.req.insert("Idempotency-Key", k);
    return h.route();
  };
  CHECK(planned(keyed({})).idempotency_key.empty());
  CHECK(planned(keyed({"a"})).idempotency_key == "a");
  CHECK(planned(keyed({"retry 7: ~!"})).idempotency_key == "retry 7: ~!");
  CHECK(planned(keyed({std::string(255, 'k')})).idempotency_key == std::string(255, 'k'));
  refused_with(keyed({std::string(256, 'k')}), 400, "bad_request", "1 to 255 bytes, got 256");
  refused_with(keyed({""}), 400, "bad_request", "got 0");
  refused_with(keyed({"caf\xc3\xa9"}), 400, "bad_request", "printable ASCII");
  refused_with(keyed({"tab\there"}), 400, "bad_request", "printable ASCII");
  refused_with(keyed({"one", "two"}), 400, "bad_request", "more than once");
  // Checked before the Content-Type (415) and the body size (413).
  head h{bhttp::verb::post, "/v1/batches"};
  h.req.insert("Idempotency-Key", std::string(300, 'k'));
  refused_with(h.route(), 400, "bad_request", "Idempotency-Key");
}

TEST_CASE("router: the dashboard's routes", "[http][router][dashboard]") {
  CHECK(planned(head{bhttp::verb::get, "/"}.route()).where == route::dashboard);
  CHECK(planned(head{bhttp::verb::head, "/"}.route()).where == route::dashboard);
  CHECK(planned(head{bhttp::verb::get, "/v1/stats"}.route()).where == route::stats);
  CHECK(planned(head{bhttp::verb::get, "/v1/events"}.route()).where == route::events);
  for (const auto* path : {"/", "/v1/stats", "/v1/events"}) {
    auto r = refused_with(head{bhttp::verb::post, path}.route(), 405, "method_not_allowed");
    CHECK(header(r, bhttp::field::allow) == "GET");
    refused_with(head{bhttp::verb::get, std::string{path} + "?x=1"}.route(), 400, "bad_request",
                 "unknown query parameter");
  }
  refused_with(head{bhttp::verb::get, "/v1/stats/extra"}.route(), 404, "not_found");
}

TEST_CASE("router: with a token the dashboard's data needs it, and the page's 401 is the page",
          "[http][router][dashboard]") {
  auto opts = with_token("s3cret");
  refused_with(head{bhttp::verb::get, "/v1/stats"}.route(opts), 401, "unauthorized");
  refused_with(head{bhttp::verb::get, "/v1/events"}.route(opts), 401, "unauthorized");
  auto page = head{bhttp::verb::get, "/"}.route(opts);
  REQUIRE(std::holds_alternative<response>(page));
  auto& r = std::get<response>(page);
  CHECK(r.status == bhttp::status::unauthorized);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(header(r, bhttp::field::www_authenticate).has_value());
  CHECK(r.body.find("<form id=\"login\"") != std::string::npos);
  std::string csp;
  for (auto& [name, value] : r.named_headers)
    if (name == "Content-Security-Policy")
      csp = value;
  CHECK(csp.find("default-src 'none'; script-src 'sha256-") == 0);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  // POST / without the token is the API's plain 401.
  refused_with(head{bhttp::verb::post, "/"}.route(opts), 401, "unauthorized");
  auto ok = head{bhttp::verb::get, "/"}.with(bhttp::field::authorization, "Bearer s3cret");
  CHECK(planned(ok.route(opts)).where == route::dashboard);
}

TEST_CASE("router: GET /v1/batches/{id}/failures takes after and limit", "[http][router]") {
  auto get = [](std::string target) { return head{bhttp::verb::get, std::move(target)}.route(); };
  auto p = planned(get("/v1/batches/b-0000000000000001/failures"));
  CHECK(p.where == route::batch_failures);
  CHECK(p.batch_id == "b-0000000000000001");
  CHECK(p.after == 0);
  CHECK(p.limit == 1000);
  p = planned(get("/v1/batches/b-0000000000000001/failures?after=9223372036854775807&limit=10000"));
  CHECK(p.after == 9223372036854775807);
  CHECK(p.limit == 10000);
  p = planned(get("/v1/batches/b-0000000000000001/failures?limit=1&after=17"));
  CHECK(p.after == 17);
  CHECK(p.limit == 1);
  // The status route is unchanged, and takes neither parameter.
  CHECK(planned(get("/v1/batches/b-0000000000000001")).where == route::batch_status);
  refused_with(get("/v1/batches/b-0000000000000001?after=1"), 400, "bad_request", "after");
  for (auto bad : {"limit=0", "limit=10001", "limit=", "limit", "after=-1", "after=1.5",
                   "after=9223372036854775808", "after=1&after=2", "page=2"})
    refused_with(get(std::string{"/v1/batches/b-1/failures?"} + bad), 400, "bad_request");
  auto wrong = refused_with(head{bhttp::verb::delete_, "/v1/batches/b-1/failures"}.route(), 405,
                            "method_not_allowed");
  CHECK(header(wrong, bhttp::field::allow) == "GET");
  refused_with(get("/v1/batches/b-1/x/failures"), 404, "not_found");
  refused_with(get("/v1/batches//failures"), 404, "not_found");
}
