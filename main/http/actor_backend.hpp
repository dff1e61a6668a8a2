// The backend that talks to the coordinator and the store actor. Every call spawns a small bridge
// actor that makes one request and hands the answer to the callback, so the caller (an Asio
// thread) never blocks and no actor holds many requests in flight (request().then() slows down
// with many outstanding).
#pragma once

#include "actors/interfaces.hpp"
#include "main/http/backend.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace taskpipe::http {

/// `query_timeout` bounds status, cancel and get_task requests; a submitted batch is waited for
/// without a timeout (the coordinator's deadline ends it).
std::unique_ptr<backend> make_actor_backend(caf::actor_system& sys, coordinator_client_actor coordinator,
                                            task_reader_actor store,
                                            std::chrono::milliseconds query_timeout
                                            = std::chrono::seconds{30});

/// Sends drain to the coordinator; `done(true)` once it answers done, `done(false, why)` if the
/// request failed. Runs on a CAF thread.
void request_drain(caf::actor_system& sys, const coordinator_client_actor& coordinator,
                   std::function<void(bool ok, std::string why)> done);

} // namespace taskpipe::http
