// Every atom taskpipe uses. caf:: already has get_atom, put_atom, ok_atom, tick_atom, ...
#pragma once

#include <caf/atom.hpp>

namespace taskpipe {

using caf::get_atom;
using caf::get_atom_v;

using submit_atom = caf::atom_constant<caf::atom("submit")>;    // wait for the report
inline constexpr submit_atom submit_atom_v{};
using start_atom = caf::atom_constant<caf::atom("start")>;      // answer at once
inline constexpr start_atom start_atom_v{};
using status_atom = caf::atom_constant<caf::atom("status")>;
inline constexpr status_atom status_atom_v{};
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
inline constexpr cancel_atom cancel_atom_v{};
using expire_atom = caf::atom_constant<caf::atom("expire")>;    // a batch's deadline passed
inline constexpr expire_atom expire_atom_v{};
using drain_atom = caf::atom_constant<caf::atom("drain")>;
inline constexpr drain_atom drain_atom_v{};
using done_atom = caf::atom_constant<caf::atom("done")>;
inline constexpr done_atom done_atom_v{};
using stats_atom = caf::atom_constant<caf::atom("stats")>;
inline constexpr stats_atom stats_atom_v{};

} // namespace taskpipe

namespace taskpipe {

using retire_atom = caf::atom_constant<caf::atom("retire")>;  // a stage worker asks to be replaced
inline constexpr retire_atom retire_atom_v{};

} // namespace taskpipe

namespace taskpipe {

using caf::spawn_atom;
using caf::spawn_atom_v;

using node_lost_atom = caf::atom_constant<caf::atom("nodelost")>;  // a remote replica went away
inline constexpr node_lost_atom node_lost_atom_v{};
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
inline constexpr reconnect_atom reconnect_atom_v{};

} // namespace taskpipe
