// SIGTERM/SIGINT handling: blocked in every thread, then awaited by one (sigwait), so no actor or
// Asio thread is ever interrupted by a signal handler.
#pragma once

namespace taskpipe {

/// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards. Call
/// before the actor system (and any other thread) is created.
void block_termination_signals();

/// Waits for SIGTERM or SIGINT; returns the signal number.
int wait_for_termination_signal();

} // namespace taskpipe
