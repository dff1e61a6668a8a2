#include "main/node_command.hpp"

#include "actors/pipeline.hpp"
#include "actors/remote/stage_host.hpp"
#include "main/actor_system_setup.hpp"
#include "main/options.hpp"
#include "main/signals.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>

#include <fmt/format.h>

#include <cstdio>

namespace taskpipe {

int node_command(const std::vector<std::string>& args) {
  option_set opts{"node", "Starts a stage host: hosts the named stages' pools and publishes them "
                          "over CAF networking for front nodes (serve/run --remote)."};
  opts.add("stages", "validate,audit,...", "", "the stages this node hosts (required)");
  opts.add("listen", "HOST:PORT", "127.0.0.1:4242", "where to publish; port 0 picks a free port");
  opts.add("insecure", "", "", "allow a non-loopback --listen without TLS");
  add_common_options(opts, "zero", "taskpipe.db");
  add_network_options(opts, false);
  pipeline_config cfg;
  std::vector<stage> stages;
  std::string host;
  std::uint16_t port = 0;
  caf::actor_system_config sys_cfg;
  try {
    opts.parse(args);
    if (opts.help_requested()) {
      fmt::print("{}", opts.help());
      return 0;
    }
    if (!opts.given("stages"))
      throw option_error{"--stages is required, e.g. --stages=validate,audit"};
    try {
      stages = parse_stage_list(opts.get("stages"));
    } catch (const std::invalid_argument& e) {
      throw option_error{fmt::format("--stages={}: {}", opts.get("stages"), e.what())};
    }
    cfg = common_pipeline_config(opts);
    apply_network_options(opts, cfg);
    parse_host_port("listen", opts.get("listen"), host, port);
    if (!is_loopback(host) && !cfg.tls) {
      if (!opts.flag("insecure"))
        throw option_error{fmt::format(
          "--listen={}: binding a non-loopback address without TLS needs --insecure (or "
          "--tls-cert, --tls-key and --tls-ca)",
          opts.get("listen"))};
      fmt::print(stderr, "taskpipe node: WARNING: links to {} are neither encrypted nor "
                         "authenticated; anyone who can reach it can drive this node\n",
                 opts.get("listen"));
    }
    configure_actor_system(sys_cfg, opts);
  } catch (const option_error& e) {
    fmt::print(stderr, "taskpipe node: {}\n", e.what());
    return 2;
  }
  block_termination_signals();
  caf::actor_system sys{sys_cfg};
  store_actor store_handle;
  try {
    store_handle = spawn_store(sys, cfg);
  } catch (const std::exception& e) {
    fmt::print(stderr, "taskpipe node: cannot open the store: {}\n", e.what());
    return 1;
  }
  stage_host_config hc;
  hc.stages = stages;
  hc.local = local_stages(cfg, store_handle, std::make_shared<pipeline_metrics>());
  auto stage_host = spawn_stage_host(sys, std::move(hc));
  auto published = cfg.tls ? caf::openssl::publish(stage_host, port, host.c_str(), true)
                           : sys.middleman().publish(stage_host, port, host.c_str(), true);
  if (!published) {
    fmt::print(stderr, "taskpipe node: cannot listen on {}: {}\n", opts.get("listen"),
               sys.render(published.error()));
    caf::anon_send_exit(stage_host, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store_handle, caf::exit_reason::user_shutdown);
    return 1;
  }
  fmt::print("node listening on {}:{}\n", host.find(':') != std::string::npos ? "[" + host + "]" : host,
             *published);
  std::fflush(stdout);
  wait_for_termination_signal();
  // The stage host ends the chains it spawned; the store goes last.
  caf::anon_send_exit(stage_host, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(store_handle, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace taskpipe
