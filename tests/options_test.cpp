// The command line: option parsing, --remote, --stages.
#include "actors/remote/stage_host.hpp"
#include "main/options.hpp"

#include <catch2/catch.hpp>

using namespace taskpipe;

namespace {

option_set sample() {
  option_set opts{"run", "test"};
  add_common_options(opts, "seed", "");
  opts.add("tasks", "N", "1000", "tasks");
  opts.add("json", "", "", "json");
  add_network_options(opts, true);
  return opts;
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const option_error& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("options take --name=value and report what is wrong") {
  auto opts = sample();
  opts.parse({"--tasks=5", "--json", "--middleman.heartbeat-interval=100ms"});
  CHECK(opts.get_int("tasks", 0, 10) == 5);
  CHECK(opts.flag("json"));
  CHECK(opts.get("latency") == "seed");
  CHECK(opts.caf_args() == std::vector<std::string>{"--middleman.heartbeat-interval=100ms"});
  CHECK(error_of([] { sample().parse({"--taks=5"}); }).find("unknown option --taks")
        != std::string::npos);
  CHECK(error_of([] { sample().parse({"--tasks"}); }).find("needs a value") != std::string::npos);
  CHECK(error_of([] { sample().parse({"--json=yes"}); }).find("flag") != std::string::npos);
  CHECK(error_of([] { sample().parse({"--tasks=1", "--tasks=2"}); }).find("given twice")
        != std::string::npos);
  CHECK(error_of([] { sample().parse({"tasks"}); }).find("unexpected argument")
        != std::string::npos);
  auto bad = sample();
  bad.parse({"--tasks=1.5"});
  CHECK(error_of([&] { bad.get_int("tasks", 0, 10); }).find("--tasks=1.5") != std::string::npos);
  auto bad_latency = sample();
  bad_latency.parse({"--latency=fast"});
  CHECK(error_of([&] { common_pipeline_config(bad_latency); }).find("--latency=fast")
        != std::string::npos);
  CHECK(sample().help().find("--tasks=N") != std::string::npos);
  CHECK(sample().help().find("(default: 1000)") != std::string::npos);
}

TEST_CASE("remote options name a stage and its replicas") {
  auto opts = sample();
  opts.parse({"--remote=audit@127.0.0.1:4242,[::1]:4243", "--remote=notify@localhost:1"});
  pipeline_config cfg;
  apply_network_options(opts, cfg);
  REQUIRE(cfg.remote.size() == 2);
  CHECK(cfg.remote[0].first == stage::audit);
  REQUIRE(cfg.remote[0].second.size() == 2);
  CHECK(cfg.remote[0].second[1].host == "::1");
  CHECK(cfg.remote[0].second[1].port == 4243);
  CHECK(cfg.remote[1].first == stage::notify);
  CHECK(!cfg.tls);
  auto refused = [](std::vector<std::string> args) {
    return error_of([&] {
      auto o = sample();
      o.parse(args);
      pipeline_config c;
      apply_network_options(o, c);
    });
  };
  CHECK(refused({"--remote=pipeline@h:1"}).find("expected STAGE@HOST:PORT") != std::string::npos);
  CHECK(refused({"--remote=audit@h"}).find("HOST:PORT") != std::string::npos);
  CHECK(refused({"--remote=audit@h:70000"}).find("HOST:PORT") != std::string::npos);
  CHECK(refused({"--remote=audit@h:0"}).find("port 0") != std::string::npos);
  CHECK(refused({"--remote=audit@h:1", "--remote=audit@h:2"}).find("given twice")
        != std::string::npos);
  CHECK(refused({"--tls-cert=a"}).find("all three") != std::string::npos);
}

TEST_CASE("stage lists are in pipeline order") {
  CHECK(parse_stage_list("validate,audit,update,notify").size() == 4);
  CHECK(parse_stage_list("audit,notify") == std::vector<stage>{stage::audit, stage::notify});
  CHECK_THROWS_WITH(parse_stage_list("audit,audit"), Catch::Contains("repeated"));
  CHECK_THROWS_WITH(parse_stage_list("notify,validate"), Catch::Contains("order"));
  CHECK_THROWS_WITH(parse_stage_list("pipeline"), Catch::Contains("not a stage"));
  CHECK_THROWS_WITH(parse_stage_list(""), Catch::Contains("not a stage"));
}

TEST_CASE("loopback addresses") {
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("127.1.2.3"));
  CHECK(is_loopback("localhost"));
  CHECK(is_loopback("::1"));
  CHECK(!is_loopback("0.0.0.0"));
  CHECK(!is_loopback("10.0.0.1"));
}

TEST_CASE("durability is full unless --durability=normal") {
  auto defaults = sample();
  defaults.parse({});
  CHECK(common_pipeline_config(defaults).sync == durability::full);
  auto normal = sample();
  normal.parse({"--durability=normal"});
  CHECK(common_pipeline_config(normal).sync == durability::normal);
  auto bad = sample();
  bad.parse({"--durability=fast"});
  CHECK(error_of([&] { common_pipeline_config(bad); })
          .find("--durability=fast: expected full or normal")
        != std::string::npos);
}

TEST_CASE("the store option names sqlite, memory or postgres, and postgres takes --db as a conninfo") {
  auto parsed = [](std::vector<std::string> args) {
    option_set opts{"serve", "test"};
    add_common_options(opts, "zero", "taskpipe.db");
    opts.parse(args);
    return common_pipeline_config(opts);
  };
  auto pg = parsed({"--store=postgres", "--db=postgresql://taskpipe@db.example:5432/tp"});
  CHECK(pg.store == store_kind::postgres);
  CHECK(pg.db_path == "postgresql://taskpipe@db.example:5432/tp");
  // Without --db, libpq takes everything from the PG* environment variables.
  CHECK(parsed({"--store=postgres"}).db_path.empty());
  CHECK(parsed({"--store=sqlite"}).db_path == "taskpipe.db");
  CHECK(error_of([&] { parsed({"--store=mysql"}); })
        == "--store=mysql: expected sqlite, memory or postgres");
}

TEST_CASE("options: --retention is a whole number with s, m, h or d") {
  using std::chrono::milliseconds;
  milliseconds out{};
  REQUIRE(parse_retention("24h", out));
  CHECK(out == std::chrono::hours{24});
  REQUIRE(parse_retention("30m", out));
  CHECK(out == std::chrono::minutes{30});
  REQUIRE(parse_retention("2s", out));
  CHECK(out == std::chrono::seconds{2});
  REQUIRE(parse_retention("3650d", out));
  CHECK(out == std::chrono::hours{24 * 3650});
  for (auto bad : {"", "24", "h", "0s", "-1h", "1.5h", "1ms", "24H", "1 h", "3651d", "1hx",
                   "99999999999999999999s"})
    CHECK_FALSE(parse_retention(bad, out));
}
