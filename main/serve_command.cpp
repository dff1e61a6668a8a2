#include "main/serve_command.hpp"

#include "actors/stats_actor.hpp"
#include "main/http/actor_backend.hpp"
#include "main/http/stats_json.hpp"
#include "main/version.hpp"
#include "main/http/server.hpp"
#include "main/actor_system_setup.hpp"
#include "main/config_file.hpp"
#include "main/log.hpp"
#include "main/sd_notify.hpp"
#include "main/options.hpp"
#include "main/signals.hpp"
#include "store/postgres/postgres_store.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <limits>
#include <sstream>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace taskpipe {

namespace {

/// The token file's content without surrounding whitespace (the trailing newline included).
std::string read_token(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw option_error{"--api-token-file=" + path + ": cannot read the file"};
  std::ostringstream text;
  text << in.rdbuf();
  auto token = text.str();
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  std::size_t begin = 0;
  std::size_t end = token.size();
  while (begin < end && is_space(token[begin]))
    ++begin;
  while (end > begin && is_space(token[end - 1]))
    --end;
  token = token.substr(begin, end - begin);
  if (token.empty())
    throw option_error{"--api-token-file=" + path + ": the file holds no token"};
  for (auto c : token)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) == 0x7f)
      throw option_error{"--api-token-file=" + path
                         + ": the token must be one word of visible characters"};
  return token;
}

/// 1,000 concurrent clients need more than the usual 1,024 descriptors: raise the soft limit to
/// the hard one.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

/// Asks the coordinator to drain and waits for its answer.
bool drain(caf::actor_system& sys, const coordinator_client_actor& coordinator) {
  auto done = std::make_shared<std::promise<std::string>>();
  auto answer = done->get_future();
  http::request_drain(sys, coordinator, [done](bool ok, std::string why) {
    done->set_value(ok ? std::string{} : (why.empty() ? std::string{"failed"} : why));
  });
  auto why = answer.get();
  if (!why.empty())
    log::error("serve", "drain failed: " + why);
  return why.empty();
}

/// Start-up facts an operator wants in the log: the store and where remote stages run.
void log_startup(const pipeline_config& cfg) {
  if (cfg.store == store_kind::sqlite)
    log::info("serve", "store sqlite " + cfg.db_path, {{"store", "sqlite"}, {"db", cfg.db_path}});
  else if (cfg.store == store_kind::postgres)
    log::info("serve", "store postgres " + describe_postgres_target(cfg.db_path),
              {{"store", "postgres"}, {"db", describe_postgres_target(cfg.db_path)}});
  else
    log::info("serve", "store memory", {{"store", "memory"}});
  for (const auto& [which, hosts] : cfg.remote) {
    std::string list;
    for (const auto& h : hosts)
      list += (list.empty() ? "" : ",") + to_string(h);
    log::info("serve", fmt::format("stage {} runs on {}", to_string(which), list),
              {{"stage", to_string(which)}, {"peers", list}, {"tls", cfg.tls}});
  }
}

/// The dashboard's stats actor for this node; its snapshots go to `feed` as JSON.
stats_actor spawn_dashboard_stats(caf::actor_system& sys, const pipeline& node,
                                  const pipeline_config& cfg, const std::string& address,
                                  std::shared_ptr<const host_board> hosts,
                                  std::shared_ptr<http::stats_feed> feed) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0)
    host[0] = '\0';
  stats_config sc;
  sc.node = host[0] != '\0' ? std::string{host} + " (" + address + ")" : address;
  sc.version = std::string{version()};
  sc.store_kind = cfg.store == store_kind::sqlite     ? "sqlite"
                  : cfg.store == store_kind::postgres ? "postgres"
                                                      : "memory";
  sc.coordinator = node.coordinator;
  sc.store = node.store;
  sc.metrics = node.metrics;
  sc.counters = node.counters;
  sc.hosts = std::move(hosts);
  for (const auto& [which, endpoints] : cfg.remote) {
    std::vector<std::string> names;
    for (const auto& e : endpoints)
      names.push_back(to_string(e));
    sc.remote.emplace_back(which, std::move(names));
  }
  sc.publish = [feed = std::move(feed)](const stats_snapshot& s) {
    feed->publish(http::stats_json(s));
  };
  return spawn_stats_actor(sys, std::move(sc));
}

} // namespace

int serve_command(const std::vector<std::string>& args) {
  option_set opts{"serve", "Starts the HTTP batch API on this node (all four stages local unless --remote says otherwise)."};
  add_common_options(opts, "zero", "taskpipe.db");
  opts.add("listen", "HOST:PORT", "127.0.0.1:8080", "address to listen on; port 0 picks a free port");
  opts.add("max-batch-tasks", "N", "1000000", "most tasks in one batch (413 batch_too_large)");
  opts.add("max-body-bytes", "N", "268435456", "largest request body (413 batch_too_large)");
  opts.add("max-in-flight", "N", "2000000",
           "tasks admitted at once across all batches (503 overloaded)");
  opts.add("batch-timeout", "MS", "60000", "default deadline per batch (a batch's timeout_ms wins)");
  opts.add("api-token-file", "PATH", "",
           "require Authorization: Bearer <token> (the file's content) on all but /healthz");
  opts.add("max-body-bytes-in-flight", "N", "1073741824",
           "request body bytes being read or decoded at once, all connections (503 overloaded)");
  opts.add("max-connections", "N", "10000", "open HTTP connections; more are refused (503)");
  opts.add("http-threads", "N", "1",
           "Asio threads serving HTTP (large bodies and reports go to a pool of 2 more)");
  add_network_options(opts, true);  // --remote (repeatable) and TLS between nodes
  add_journal_option(opts);

  pipeline_config cfg;
  http::server_options sopts;
  caf::actor_system_config sys_cfg;
  try {
    opts.parse(args);
    if (opts.help_requested()) {
      std::fputs(opts.help().c_str(), stdout);
      return 0;
    }
    cfg = common_pipeline_config(opts);
    apply_journal_option(opts, cfg);
    apply_network_options(opts, cfg);
    parse_host_port("listen", opts.get("listen"), sopts.host, sopts.port);
    constexpr auto int_max = std::numeric_limits<std::int64_t>::max();
    sopts.max_batch_tasks = static_cast<std::uint64_t>(opts.get_int("max-batch-tasks", 1, int_max));
    sopts.max_body_bytes = static_cast<std::uint64_t>(opts.get_int("max-body-bytes", 1, int_max));
    sopts.max_in_flight = static_cast<std::uint64_t>(opts.get_int("max-in-flight", 1, int_max));
    sopts.max_body_bytes_in_flight =
      static_cast<std::uint64_t>(opts.get_int("max-body-bytes-in-flight", 1, int_max));
    sopts.max_connections = static_cast<std::uint64_t>(opts.get_int("max-connections", 1, int_max));
    sopts.threads = static_cast<std::size_t>(opts.get_int("http-threads", 1, 64));
    cfg.max_in_flight = sopts.max_in_flight;
    cfg.batch_timeout = std::chrono::milliseconds{opts.get_int("batch-timeout", 1, 3'600'000)};
    if (opts.given("api-token-file"))
      sopts.api_token = read_token(opts.get("api-token-file"));
    configure_actor_system(sys_cfg, opts);
    if (auto done = finish_configuration(opts, sys_cfg))  // --dump-config, --check-config
      return *done;
  } catch (const option_error& e) {
    return report_option_error(opts, args, e);
  }

  // Before any thread exists (CAF's, Asio's), so that every thread inherits the mask and only
  // sigwait below sees SIGTERM/SIGINT.
  block_termination_signals();
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  // READY=1 for systemd once the front listens and every remote stage has a host.
  std::vector<stage> remote_stages;
  for (const auto& [which, hosts] : cfg.remote)
    remote_stages.push_back(which);
  auto ready = std::make_shared<readiness>(remote_stages);
  auto hosts = std::make_shared<host_board>();  // the dashboard's list of stage hosts
  cfg.on_peer = [ready, hosts](const peer_event& ev) {
    ready->on_peer(ev);
    hosts->on_peer(ev);
  };

  caf::actor_system sys{sys_cfg};
  pipeline node;
  std::uint64_t resumed = 0;
  try {
    node = spawn_pipeline(sys, cfg);
    if (cfg.journal)
      resumed = resume_unfinished(sys, node);
  } catch (const std::exception& e) {
    log::error("serve", std::string{"cannot open the store: "} + e.what());
    return 1;
  }
  log_startup(cfg);
  if (resumed > 0)
    log::info("serve", fmt::format("resumed {} unfinished batches of the journal", resumed),
              {{"resumed", resumed}});
  auto backend = http::make_actor_backend(sys, node.coordinator, node.reader);
  int status = 0;
  {
    http::server front{*backend, node.metrics, sopts};
    auto feed = std::make_shared<http::stats_feed>();
    front.set_stats_feed(feed);
    try {
      front.start();
    } catch (const std::exception& e) {
      log::error("http", e.what());
      drain(sys, node.coordinator);
      return 1;
    }
    auto stats = spawn_dashboard_stats(sys, node, cfg, front.address(), hosts, feed);
    std::printf("listening on %s\n", front.address().c_str());
    std::fflush(stdout);
    log::info("http", "listening on " + front.address(), {{"address", front.address()}});
    ready->listening(front.address());

    int sig = wait_for_termination_signal();
    auto sig_name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    log::info("serve", fmt::format("{}: draining (new batches get 503; a second signal exits at once)",
                                   sig_name),
              {{"signal", sig_name}});
    sd_notify("STOPPING=1\nSTATUS=draining");
    front.begin_drain();
    // A second signal ends the process at once with status 1.
    std::thread{[] {
      wait_for_termination_signal();
      std::_Exit(1);
    }}.detach();
    if (!drain(sys, node.coordinator))
      status = 1;
    caf::anon_send_exit(stats, caf::exit_reason::user_shutdown);
    // Every admitted batch has finished; let the answers reach their clients.
    front.stop(std::chrono::seconds{10});
  }
  sys.await_all_actors_done();
  log::info("serve", "drained, exiting", {{"status", status}});
  return status;
}

} // namespace taskpipe
