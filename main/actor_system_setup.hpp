// How every taskpipe process sets up its CAF actor system (run, serve, node alike).
#pragma once

#include "main/options.hpp"

#include <chrono>

namespace caf {
class actor_system_config;
} // namespace caf

namespace taskpipe {

/// Registers taskpipe's types on `cfg`, loads CAF's networking module (and its openssl module
/// when TLS options are declared and given), runs one scheduler thread per core, turns on
/// heartbeats (CAF 0.17 ships them off, so a frozen peer would never be noticed) and applies the
/// CAF options given on the command line, which override all of these (throws option_error when
/// CAF rejects one).
void configure_actor_system(caf::actor_system_config& cfg, const option_set& opts);

/// Default heartbeat settings of every node (override with --middleman.heartbeat-interval and
/// --middleman.connection-timeout; every node of a deployment must use the same).
inline constexpr auto default_heartbeat_interval = std::chrono::milliseconds{250};
inline constexpr auto default_connection_timeout = std::chrono::milliseconds{2000};

} // namespace taskpipe
