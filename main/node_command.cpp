#include "main/node_command.hpp"

#include "actors/pipeline.hpp"
#include "actors/remote/stage_host.hpp"
#include "main/actor_system_setup.hpp"
#include "main/config_file.hpp"
#include "main/log.hpp"
#include "main/sd_notify.hpp"
#include "main/options.hpp"
#include "main/signals.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>

#include <fmt/format.h>

#include <csignal>
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
    if (auto done = finish_configuration(opts, sys_cfg))  // --dump-config, --check-config
      return *done;
  } catch (const option_error& e) {
    return report_option_error(opts, args, e);
  }
  block_termination_signals();
  caf::actor_system sys{sys_cfg};
  store_actor store_handle;
  store_actor reader;
  stage_writers writers;
  try {
    store_handle = spawn_store(sys, cfg, nullptr, nullptr, &writers);
    reader = spawn_reader(sys, cfg, store_handle);
  } catch (const std::exception& e) {
    log::error("node", std::string{"cannot open the store: "} + e.what());
    if (store_handle)
      caf::anon_send_exit(store_handle, caf::exit_reason::user_shutdown);
    return 1;
  }
  stage_host_config hc;
  hc.stages = stages;
  hc.local = local_stages(cfg, store_handle, std::make_shared<pipeline_metrics>(), reader,
                          writers);
  hc.on_peer = [](const peer_event& ev) {
    std::string stages;
    for (auto s : ev.stages)
      stages += (stages.empty() ? "" : ",") + to_string(s);
    if (ev.what == peer_event::kind::connected)
      log::info("node", fmt::format("front {} connected: serving {}", ev.peer, stages),
                {{"peer", ev.peer}, {"stages", stages}});
    else
      log::info("node", fmt::format("front {} gone ({}): {}", ev.peer, stages, ev.detail),
                {{"peer", ev.peer}, {"stages", stages}, {"reason", ev.detail}});
  };
  auto stage_host = spawn_stage_host(sys, std::move(hc));
  auto published = cfg.tls ? caf::openssl::publish(stage_host, port, host.c_str(), true)
                           : sys.middleman().publish(stage_host, port, host.c_str(), true);
  if (!published) {
    log::error("node", fmt::format("cannot listen on {}: {}", opts.get("listen"),
                                   sys.render(published.error())));
    caf::anon_send_exit(stage_host, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store_handle, caf::exit_reason::user_shutdown);
    return 1;
  }
  auto address = fmt::format("{}:{}", host.find(':') != std::string::npos ? "[" + host + "]" : host,
                             *published);
  fmt::print("node listening on {}\n", address);
  std::fflush(stdout);
  log::info("node", fmt::format("listening on {} for stages {}", address, opts.get("stages")),
            {{"address", address}, {"stages", opts.get("stages")}, {"tls", cfg.tls}});
  sd_notify(fmt::format("READY=1\nSTATUS=serving {} on {}", opts.get("stages"), address));
  auto sig = wait_for_termination_signal();
  sd_notify("STOPPING=1");
  log::info("node", sig == SIGINT ? "SIGINT: stopping" : "SIGTERM: stopping");
  // The stage host ends the chains it spawned; the store goes last.
  caf::anon_send_exit(stage_host, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(store_handle, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace taskpipe
