// The PostgreSQL task store (see postgres_store.cpp for the schema and how it writes).
#pragma once

#include "store/task_store.hpp"

namespace taskpipe {

/// A store in the PostgreSQL database `opts.location` names: a libpq URI
/// (postgresql://USER@HOST:PORT/DBNAME) or key=value conninfo; "" takes everything from the PG*
/// environment variables. Creates the tables that are missing. The error names the database and
/// the server's reason (unreachable, login refused, incompatible schema version).
caf::expected<std::unique_ptr<task_store>> open_postgres_store(const store_options& opts);

/// How messages name that database without connecting: "user@host:port/dbname" as far as the
/// conninfo and the PG* environment variables say (never the password).
std::string describe_postgres_target(const std::string& conninfo);

} // namespace taskpipe
