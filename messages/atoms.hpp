// Every atom taskpipe uses, in one list. CAF 0.17.6's CAF_ADD_ATOM only defines the atom constant
// (atoms need no type ID in 0.17: they travel as their 64-bit value), so this list is not part of
// the type-ID block in actors/type_ids.hpp. caf:: already has get_atom, spawn_atom, tick_atom, ...
#pragma once

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

namespace taskpipe {

using caf::get_atom;
using caf::get_atom_v;
using caf::spawn_atom;
using caf::spawn_atom_v;

} // namespace taskpipe

// Clients of the coordinator.
CAF_ADD_ATOM(taskpipe, taskpipe, submit_atom, "submit")       // admit and wait for the report
CAF_ADD_ATOM(taskpipe, taskpipe, start_atom, "start")         // admit and answer at once
CAF_ADD_ATOM(taskpipe, taskpipe, status_atom, "status")
CAF_ADD_ATOM(taskpipe, taskpipe, cancel_atom, "cancel")
CAF_ADD_ATOM(taskpipe, taskpipe, drain_atom, "drain")
CAF_ADD_ATOM(taskpipe, taskpipe, done_atom, "done")
CAF_ADD_ATOM(taskpipe, taskpipe, stats_atom, "stats")
// Between the coordinator and the stages.
CAF_ADD_ATOM(taskpipe, taskpipe, expire_atom, "expire")       // a batch's deadline passed
CAF_ADD_ATOM(taskpipe, taskpipe, node_lost_atom, "nodelost")  // a remote replica went away
// The batch journal (coordinator and store actor).
CAF_ADD_ATOM(taskpipe, taskpipe, journal_atom, "journal")     // record an admitted batch
CAF_ADD_ATOM(taskpipe, taskpipe, number_atom, "number")       // number an admitted batch only
CAF_ADD_ATOM(taskpipe, taskpipe, outcome_atom, "outcome")     // record a cancel or a finish
CAF_ADD_ATOM(taskpipe, taskpipe, resume_atom, "resume")       // unfinished batches at start-up
CAF_ADD_ATOM(taskpipe, taskpipe, report_atom, "report")       // a finished batch's report
CAF_ADD_ATOM(taskpipe, taskpipe, key_atom, "key")             // the batch of an Idempotency-Key
CAF_ADD_ATOM(taskpipe, taskpipe, failures_atom, "failures")   // a page of a batch's failures
CAF_ADD_ATOM(taskpipe, taskpipe, purge_atom, "purge")         // remove expired batches
// Inside a stage (router and workers) and a remote stage.
CAF_ADD_ATOM(taskpipe, taskpipe, retire_atom, "retire")       // a worker asks to be replaced
CAF_ADD_ATOM(taskpipe, taskpipe, reconnect_atom, "reconnect")
CAF_ADD_ATOM(taskpipe, taskpipe, forward_atom, "forward")     // a remote stage to a replica's relay
