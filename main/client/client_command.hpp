// The client commands: `taskpipe submit`, `taskpipe status`, `taskpipe cancel`, talking to a
// node's HTTP API (`taskpipe serve`).
#pragma once

#include <string>
#include <vector>

namespace taskpipe {

/// `taskpipe submit --url=URL [--token-file=PATH] [--json] [--retries=N] FILE|-`: posts the batch
/// (with an Idempotency-Key, so that a retry after a dropped connection is safe), shows progress on
/// a terminal, prints the summary (or the report JSON). Exit status: 0 every task succeeded, 1 some
/// failed, 2 bad command line, 3 the node refused the batch or could not be reached.
int submit_command(const std::vector<std::string>& args);

/// `taskpipe status --url=URL [--token-file=PATH] [--json] ID`: the batch's status. Exit status 0,
/// 2 for a bad command line, 3 when the node answers an error (404 included) or cannot be reached.
int status_command(const std::vector<std::string>& args);

/// `taskpipe cancel --url=URL [--token-file=PATH] [--json] ID`: cancels the batch, prints its
/// status. Exit status as for status.
int cancel_command(const std::vector<std::string>& args);

} // namespace taskpipe
