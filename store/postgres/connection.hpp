// One libpq connection of the PostgreSQL store: connecting (and reconnecting after the server
// went away), the store's prepared statements, and the round trips the store makes: one query,
// or a pipeline of many queries answered together (libpq pipeline mode, one sync).
#pragma once

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskpipe::postgres {

struct result_deleter {
  void operator()(PGresult* r) const noexcept {
    PQclear(r);
  }
};
using result = std::unique_ptr<PGresult, result_deleter>;

/// A query's parameters, in text format unless added with add_binary (nullptr for SQL NULL).
struct params {
  std::vector<std::string> values;
  std::vector<char> is_null;
  std::vector<int> formats; ///< per parameter: 0 text, 1 binary (a bytea's bytes as they are)

  void add(std::string value) {
    values.push_back(std::move(value));
    is_null.push_back(0);
    formats.push_back(0);
  }

  void add_null() {
    values.emplace_back();
    is_null.push_back(1);
    formats.push_back(0);
  }

  void add_binary(std::string bytes) {
    values.push_back(std::move(bytes));
    is_null.push_back(0);
    formats.push_back(1);
  }
};

/// Appends one element of a text[] literal to `out`: quoted, with '\' and '"' escaped.
void append_array_text(std::string& out, std::string_view value);

/// libpq's message on one line ("connection to server ... failed: Connection refused Is the
/// server running ...?").
std::string one_line(const char* message);

/// The error of a failed result (or of the connection if there is no result), on one line.
std::string error_text(PGconn* conn, const PGresult* r);

/// How the store names a database in messages: "user@host:port/dbname" as libpq resolves it
/// (environment variables included), never the password.
std::string describe(PGconn* conn);

class connection {
public:
  /// `conninfo`: a libpq URI or key=value string ("" uses the PG* environment variables only).
  explicit connection(std::string conninfo);
  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Connects (again, if a connection is open but broken) and prepares the statements the
  /// `prepare` callback prepares. The error says why, naming the database.
  caf::error connect();

  /// Connects when there is no healthy connection; none when there is one.
  caf::error ensure();

  bool ok() const {
    return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
  }

  PGconn* get() const {
    return conn_;
  }

  /// "user@host:port/dbname" of the (last) connection.
  const std::string& target() const {
    return target_;
  }

  /// Called after each successful connect to create the schema and prepare statements.
  std::function<caf::error(connection&)> on_connect;

  /// One query (text, or a prepared statement's name when `prepared`), waiting for its result.
  /// The error carries the server's (or libpq's) message.
  caf::expected<result> exec(const std::string& sql, const params& p = {});
  caf::expected<result> exec_prepared(const std::string& name, const params& p);

  /// What one query of a pipeline got back.
  struct answer {
    result res;        ///< null when the query did not run (the pipeline was aborted before it)
    bool ok = false;   ///< PGRES_COMMAND_OK or PGRES_TUPLES_OK
    bool server_error = false; ///< the server refused it (has an SQLSTATE)
    std::string sqlstate;      ///< the server's error code, when it refused it
    std::string error; ///< why not, when !ok
  };

  /// A pipeline: queries sent with send_prepared/send_text go to the server at once and are
  /// answered after one sync (one round trip for all of them).
  caf::error begin_pipeline();
  caf::error send_prepared(const std::string& name, const params& p);
  caf::error send_text(const std::string& sql);
  caf::error send_prepare(const std::string& name, const std::string& sql);

  /// Prepares every (name, SQL) statement in one pipeline; the error names the one refused.
  caf::error prepare_all(std::span<const std::pair<const char*, const char*>> statements);

  /// Syncs and reads one answer per query sent, in order. A query after a failed one is not run
  /// (its answer has no result). Returns an error only when the connection broke: then
  /// `answers` holds what arrived before, and the server may have run more than that.
  caf::error finish_pipeline(std::vector<answer>& answers);

private:
  void close();

  /// Ends a pipeline of one query: its result, or why there is none.
  caf::expected<result> only_answer();

  std::string conninfo_;
  std::string target_;
  PGconn* conn_ = nullptr;
  std::size_t sent_ = 0; ///< queries in the open pipeline
};

} // namespace taskpipe::postgres
