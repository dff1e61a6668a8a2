// The front's view of its stage hosts' counters (actors/remote/remote_stats.hpp) on its own: who
// is asked, and what a row says when a host answers, stops answering, is lost or comes back.
#include "actors/remote/remote_stats.hpp"
#include "test_node.hpp"

using namespace taskpipe;
using namespace taskpipe::test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

struct remote_stats_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{testing_config(cfg)};
  caf::scheduler::test_coordinator& sched{
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())};
  // Stand-ins for two segments of one host (only their addresses matter here). They take an
  // argument: CAF 0.17 binds a null std::tuple<> for an actor spawned with none (UBSan).
  caf::actor first = sys.spawn([](int) { return caf::behavior{[](int) {}}; }, 0);
  caf::actor second = sys.spawn([](int) { return caf::behavior{[](int) {}}; }, 0);
  remote_stats remote;
  clock_type::time_point t0 = clock_type::now();

  ~remote_stats_fixture() {
    caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(second, caf::exit_reason::user_shutdown);
    sched.run();
  }

  segment_link link(const caf::actor& segment) {
    return segment_link{"h:1", {stage::update, stage::notify}, segment.address()};
  }

  /// A reading of both stages: `done` tasks passed each, 2 workers, busy for `busy_ns` in all.
  static segment_reading reading(std::uint64_t done, std::uint64_t busy_ns, std::uint64_t at_ns) {
    stage_reading r;
    r.done = done;
    r.busy_ns = busy_ns;
    r.latency[10] = done;  // about 0.5 to 1 ms
    r.workers = {worker_reading{0, done / 2, 0, busy_ns / 2},
                 worker_reading{0, done - done / 2, 0, busy_ns / 2}};
    return segment_reading{{r, r}, at_ns};
  }

  stage_view view(stage s, const std::vector<host_view>& hosts,
                  const std::vector<segment_link>& links, clock_type::time_point now) {
    stage_view v;
    v.which = s;
    v.local = false;
    v.hosts = {"h:1"};
    remote.view(v, hosts, links, now);
    REQUIRE(v.nodes.size() == 1);
    return v;
  }
};

const std::vector<host_view> connected{host_view{"h:1", {"update", "notify"}, "connected", ""}};

} // namespace

TEST_CASE_METHOD(remote_stats_fixture, "remote stats: one question at a time per segment",
                 "[dashboard]") {
  std::vector<segment_link> links{link(first)};
  CHECK(remote.to_ask(links).size() == 1);
  CHECK(remote.to_ask(links).empty());  // it still owes the answer
  remote.answered(links[0], reading(0, 0, 1'000'000'000), t0, 10s);
  CHECK(remote.to_ask(links).size() == 1);
  remote.failed(links[0], "no answer within 800 ms");
  CHECK(remote.to_ask(links).size() == 1);
  CHECK(remote.to_ask({}).empty());
}

TEST_CASE_METHOD(remote_stats_fixture, "remote stats: live, stale, lost, and a new segment",
                 "[dashboard]") {
  std::vector<segment_link> links{link(first)};
  // Connected, not answered yet.
  remote.to_ask(links);
  auto v = view(stage::update, connected, links, t0);
  CHECK(v.nodes[0].state == "connecting");
  CHECK(!v.nodes[0].age_s);
  // Two answers one second apart (the host's clock): rates from their difference.
  remote.answered(links[0], reading(100, 0, 1'000'000'000), t0, 10s);
  remote.to_ask(links);
  remote.answered(links[0], reading(1100, 1'000'000'000, 2'000'000'000), t0 + 1s, 10s);
  v = view(stage::notify, connected, links, t0 + 1500ms);
  auto n = v.nodes[0];
  CHECK(n.peer == "h:1");
  CHECK(n.state == "live");
  REQUIRE(n.age_s);
  CHECK(*n.age_s == Approx(0.5));
  CHECK(n.done == 1100);
  CHECK(n.done_per_s == Approx(1000.0));
  CHECK(n.busy == Approx(0.5));  // 1 s busy over 2 workers in 1 s
  CHECK(n.workers.size() == 2);
  REQUIRE(n.p50_ms);
  CHECK(*n.p50_ms > 0.5);
  CHECK(*n.p50_ms < 1.1);
  // The stage's own figures add up its live nodes.
  CHECK(v.done == 1100);
  CHECK(v.done_per_s == Approx(1000.0));
  CHECK(v.workers.size() == 2);
  CHECK(v.p50_ms == n.p50_ms);
  // No answer: stale, the last totals stay, rates and busy go to 0.
  remote.to_ask(links);
  remote.failed(links[0], "no answer within 800 ms");
  v = view(stage::update, connected, links, t0 + 3s);
  n = v.nodes[0];
  CHECK(n.state == "stale");
  CHECK(n.detail == "no answer within 800 ms");
  CHECK(*n.age_s == Approx(2.0));
  CHECK(n.done == 1100);
  CHECK(n.done_per_s == 0);
  CHECK(n.busy == 0);
  CHECK(v.done == 0);  // no live node
  CHECK(v.workers.empty());
  CHECK(!v.p50_ms);
  // Lost: the board has no segment any more and says why.
  std::vector<host_view> lost{host_view{"h:1", {"update", "notify"}, "lost", "remote_link_unreachable"}};
  v = view(stage::update, lost, {}, t0 + 4s);
  CHECK(v.nodes[0].state == "lost");
  CHECK(v.nodes[0].detail == "remote_link_unreachable");
  CHECK(v.nodes[0].done == 1100);
  CHECK(*v.nodes[0].age_s == Approx(3.0));
  // Reconnected: a new segment, whose pools count from 0; an answer of the old one is ignored.
  std::vector<segment_link> again{link(second)};
  CHECK(remote.to_ask(again).size() == 1);
  v = view(stage::update, connected, again, t0 + 5s);
  CHECK(v.nodes[0].state == "connecting");
  CHECK(!v.nodes[0].age_s);
  remote.answered(links[0], reading(5000, 0, 9'000'000'000), t0 + 5s, 10s);
  remote.answered(again[0], reading(7, 0, 1'000'000), t0 + 5s, 10s);
  v = view(stage::update, connected, again, t0 + 5s);
  CHECK(v.nodes[0].state == "live");
  CHECK(v.nodes[0].done == 7);
  CHECK(v.nodes[0].done_per_s == 0);  // its first answer: no rate yet
}

TEST_CASE_METHOD(remote_stats_fixture, "remote stats: a host never reached", "[dashboard]") {
  std::vector<host_view> unreachable{
    host_view{"h:1", {"update", "notify"}, "unreachable", "connection refused"}};
  auto v = view(stage::update, unreachable, {}, t0);
  CHECK(v.nodes[0].state == "unreachable");
  CHECK(v.nodes[0].detail == "connection refused");
  CHECK(!v.nodes[0].age_s);
  v = view(stage::update, {}, {}, t0);  // nothing heard yet
  CHECK(v.nodes[0].state == "connecting");
}
