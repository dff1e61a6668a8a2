// GET /v1/openapi.json serves api/openapi.json as it is in the repository.
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/serve_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace taskpipe::test;

TEST_CASE("openapi: GET /v1/openapi.json serves the repository's document", "[operator][openapi]") {
  auto file = read_file(std::string{TASKPIPE_SOURCE_DIR} + "/api/openapi.json");
  REQUIRE(!file.empty());
  temp_dir dir;
  write_file(dir.path() + "/token", "t0ken\n");
  serve_process proc{{"--listen=127.0.0.1:0", "--store=memory", "--api-token-file=" + dir.path() + "/token"}};
  auto r = http_call(proc.port(), http_request{"GET", "/v1/openapi.json", {}, {{"Authorization", "Bearer t0ken"}}});
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").rfind("application/json", 0) == 0);
  CHECK(r.body == file);
  auto doc = nlohmann::json::parse(r.body);
  CHECK(doc["openapi"] == "3.1.0");
  // Like every route but /healthz, it needs the token; HEAD has no body; other methods are 405.
  CHECK(http_call(proc.port(), http_request{"GET", "/v1/openapi.json", {}, {}}).status == 401);
  auto head = http_call(proc.port(), http_request{"HEAD", "/v1/openapi.json", {}, {{"Authorization", "Bearer t0ken"}}});
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  auto post = http_call(proc.port(), http_request{"POST", "/v1/openapi.json", {}, {{"Authorization", "Bearer t0ken"}}});
  CHECK(post.status == 405);
  CHECK(post.header("allow") == "GET");
}
