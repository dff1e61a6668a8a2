// The HTTP front alone, for bench/http_bench.sh's "front only" case: the real server and actor
// backend in front of the fake coordinator (every batch answered at once, no pipeline, no store),
// so its req/s is the front's own ceiling (HTTP, JSON decode, bridge actor, report).
//   http_front_bench [THREADS]   prints "listening on 127.0.0.1:PORT", stops on SIGTERM/SIGINT
#include "main/http/actor_backend.hpp"
#include "main/http/server.hpp"
#include "support/fake_node.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>

int main(int argc, char** argv) {
  using namespace taskpipe;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  test::fake_config fc;
  fc.known_tasks = 1'000'000;
  auto coordinator = test::spawn_fake_coordinator(sys, fc);
  auto store = test::spawn_fake_store(sys, fc.known_tasks);
  auto backend = http::make_actor_backend(sys, coordinator, store);
  http::server_options so;
  so.port = 0;
  so.threads = argc > 1 ? static_cast<std::size_t>(std::atoi(argv[1])) : 1;
  {
    http::server front{*backend, nullptr, so};
    front.start();
    std::printf("listening on %s\n", front.address().c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    front.stop();
  }
  caf::anon_send_exit(coordinator, caf::exit_reason::kill);
  caf::anon_send_exit(store, caf::exit_reason::kill);
  return 0;
}
