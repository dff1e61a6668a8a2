// The truthful-report invariant, checked against a SQLite or a PostgreSQL store: for every task of a batch,
//   succeeded                                  => audit, applied-update and outbox rows exist;
//   failed at validate/audit/pipeline, or
//   cancelled, timeout or node_lost not at update/notify => no applied-update row;
//   failed at update                           => no applied-update row, unless the reason says
//                                                 the update was (or may have been) applied;
//   failed at notify                           => applied-update row, no outbox row, and the
//                                                 reason says the update was applied;
// and the report accounts for every task exactly once.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace taskpipe::test {

/// Checks `report` (a batch report as the HTTP API answers it) for the batch whose request body
/// was `request` against the SQLite file `db_path` (or the PostgreSQL database, when it is a
/// postgresql:// URI). Returns one line per violation (none: holds).
std::vector<std::string> check_invariant(const nlohmann::json& request,
                                         const nlohmann::json& report, const std::string& db_path);

} // namespace taskpipe::test
