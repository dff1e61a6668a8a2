#include "store/postgres/connection.hpp"

#include "store/task_store.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace taskpipe::postgres {

std::string one_line(const char* message) {
  std::string out;
  for (const char* p = message ? message : ""; *p; ++p) {
    char c = *p;
    if (c == '\n' || c == '\t' || c == '\r') {
      if (!out.empty() && out.back() != ' ')
        out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

void append_array_text(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    if (c == '\\' || c == '"')
      out += '\\';
    out += c;
  }
  out += '"';
}

std::string error_text(PGconn* conn, const PGresult* r) {
  auto text = one_line(r ? PQresultErrorMessage(r) : nullptr);
  if (text.empty())
    text = one_line(conn ? PQerrorMessage(conn) : nullptr);
  // libpq prefixes server errors with "ERROR:  " / "FATAL:  ": keep the words only.
  for (const char* prefix : {"ERROR: ", "FATAL: "})
    if (text.rfind(prefix, 0) == 0)
      text = text.substr(std::char_traits<char>::length(prefix));
  while (!text.empty() && text.front() == ' ')
    text.erase(0, 1);
  return text.empty() ? "unknown error" : text;
}

std::string describe(PGconn* conn) {
  if (!conn)
    return "?";
  auto text = [](const char* s) { return std::string{s ? s : ""}; };
  auto host = text(PQhost(conn));
  if (host.empty() || host.front() == '/')
    host = host.empty() ? "local socket" : "socket " + host;
  return text(PQuser(conn)) + "@" + host + ":" + text(PQport(conn)) + "/" + text(PQdb(conn));
}

connection::connection(std::string conninfo) : conninfo_(std::move(conninfo)) {
}

connection::~connection() {
  close();
}

void connection::close() {
  if (conn_)
    PQfinish(conn_);
  conn_ = nullptr;
  sent_ = 0;
}

caf::error connection::connect() {
  close();
  // The caller's conninfo (expanded from dbname) comes last and overrides these defaults; the PG*
  // environment variables fill in what neither sets. Keepalives notice a dead server or network
  // path while a statement waits (besides the answer timeout below).
  std::vector<const char*> keys{"application_name", "keepalives_idle", "keepalives_interval",
                                "keepalives_count"};
  std::vector<const char*> values{"taskpipe", "30", "10", "3"};
  if (!std::getenv("PGCONNECT_TIMEOUT")) {
    keys.push_back("connect_timeout");
    values.push_back("5");
  }
  keys.push_back("dbname");
  values.push_back(conninfo_.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (!conn_)
    return storage_error("cannot connect to PostgreSQL: out of memory");
  target_ = describe(conn_);
  // The server's notices ("relation ... already exists, skipping") are not for the user.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  if (PQstatus(conn_) != CONNECTION_OK) {
    auto why = error_text(conn_, nullptr);
    close();
    return storage_error("cannot connect to PostgreSQL " + target_ + ": " + why);
  }
  // Non-blocking sends: a long pipeline is flushed while its answers are read (see
  // finish_pipeline), so neither side can wait on the other with full buffers.
  if (PQsetnonblocking(conn_, 1) != 0) {
    auto why = error_text(conn_, nullptr);
    close();
    return storage_error("PostgreSQL " + target_ + ": " + why);
  }
  if (on_connect)
    if (auto err = on_connect(*this)) {
      close();
      return err;
    }
  return caf::none;
}

caf::error connection::ensure() {
  if (ok() && PQpipelineStatus(conn_) == PQ_PIPELINE_OFF)
    return caf::none;
  return connect();
}

namespace {

/// How long the store waits for the server to read or answer before it gives the connection up
/// (a frozen server or a dead network path that TCP has not noticed yet).
constexpr int answer_timeout_ms = 60'000;

/// Set when a wait timed out (the connection is then given up).
thread_local bool timed_out = false;

/// Waits until the socket is readable or (when `want_write`) writable; false on a timeout.
bool wait_socket(PGconn* conn, bool want_write) {
  pollfd p{PQsocket(conn), static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
  if (p.fd < 0)
    return false;
  int rc;
  do {
    rc = ::poll(&p, 1, answer_timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0)
    timed_out = true;
  return rc > 0;
}

/// Sends everything buffered, reading what arrives meanwhile; false when the connection broke.
bool flush_all(PGconn* conn) {
  for (;;) {
    int rc = PQflush(conn);
    if (rc == 0)
      return true;
    if (rc < 0 || !wait_socket(conn, true))
      return false;
    if (PQconsumeInput(conn) == 0)
      return false;
  }
}

/// The next result, waiting for it; null at the end of a query's results, or when the
/// connection broke or timed out.
PGresult* next_result(PGconn* conn) {
  while (PQisBusy(conn)) {
    if (!flush_all(conn) || !wait_socket(conn, false))
      return timed_out ? nullptr : PQgetResult(conn); // broken: PQgetResult reports it
    if (PQconsumeInput(conn) == 0)
      break;
  }
  return PQgetResult(conn);
}

bool good(const PGresult* r) {
  auto status = PQresultStatus(r);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

} // namespace

caf::expected<result> connection::exec(const std::string& sql, const params& p) {
  if (auto err = begin_pipeline())
    return err;
  std::vector<const char*> values;
  for (std::size_t i = 0; i < p.values.size(); ++i)
    values.push_back(p.is_null[i] ? nullptr : p.values[i].c_str());
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                        values.data(), nullptr, nullptr, 0)
      == 0)
    return storage_error(error_text(conn_, nullptr));
  ++sent_;
  return only_answer();
}

caf::expected<result> connection::exec_prepared(const std::string& name, const params& p) {
  if (auto err = begin_pipeline())
    return err;
  if (auto err = send_prepared(name, p))
    return err;
  return only_answer();
}

caf::expected<result> connection::only_answer() {
  std::vector<answer> answers;
  if (auto err = finish_pipeline(answers))
    return err;
  if (!answers.front().ok)
    return storage_error(answers.front().error);
  return std::move(answers.front().res);
}

caf::error connection::send_prepare(const std::string& name, const std::string& sql) {
  if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) == 0)
    return storage_error(error_text(conn_, nullptr));
  ++sent_;
  return caf::none;
}

caf::error connection::begin_pipeline() {
  if (!ok())
    return storage_error("not connected");
  sent_ = 0;
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) == 0)
    return storage_error(error_text(conn_, nullptr));
  return caf::none;
}

caf::error
connection::prepare_all(std::span<const std::pair<const char*, const char*>> statements) {
  if (auto err = begin_pipeline())
    return err;
  for (auto& [name, sql] : statements)
    if (auto err = send_prepare(name, sql))
      return err;
  std::vector<answer> answers;
  if (auto err = finish_pipeline(answers))
    return err;
  for (std::size_t i = 0; i < answers.size(); ++i)
    if (!answers[i].ok)
      return storage_error("preparing " + std::string{statements[i].first} + " in PostgreSQL "
                           + target() + " failed: " + answers[i].error);
  return caf::none;
}

caf::error connection::send_prepared(const std::string& name, const params& p) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(p.values.size());
  lengths.reserve(p.values.size());
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    values.push_back(p.is_null[i] ? nullptr : p.values[i].data());
    lengths.push_back(static_cast<int>(p.values[i].size())); // (read for binary ones only)
  }
  if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(),
                          lengths.data(), p.formats.data(), 0)
      == 0)
    return storage_error(error_text(conn_, nullptr));
  ++sent_;
  return caf::none;
}

caf::error connection::send_text(const std::string& sql) {
  if (!conn_)
    return storage_error("not connected");
  if (PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 0)
    return storage_error(error_text(conn_, nullptr));
  ++sent_;
  return caf::none;
}

caf::error connection::finish_pipeline(std::vector<answer>& answers) {
  answers.clear();
  answers.resize(sent_);
  timed_out = false;
  auto broken = [&] {
    auto why = timed_out ? "no answer within " + std::to_string(answer_timeout_ms / 1000) + " s"
                         : error_text(conn_, nullptr);
    close(); // the next round trip connects again
    return storage_error("connection to PostgreSQL " + target_ + " lost: " + why);
  };
  if (PQpipelineSync(conn_) == 0 || !flush_all(conn_))
    return broken();
  for (auto& a : answers) {
    PGresult* r = next_result(conn_);
    if (!r)
      return broken();
    a.res.reset(r);
    auto status = PQresultStatus(r);
    if (status == PGRES_PIPELINE_ABORTED) {
      a.res.reset();
      a.error = "not run: an earlier statement failed";
    } else if (good(r)) {
      a.ok = true;
    } else {
      const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      a.server_error = code != nullptr;
      a.sqlstate = code ? code : "";
      a.error = error_text(conn_, r);
      if (PQstatus(conn_) != CONNECTION_OK) {
        // The server ended the connection (e.g. shutting down): it ran nothing after this.
        auto why = a.error;
        close();
        return storage_error("connection to PostgreSQL " + target_ + " lost: " + why);
      }
    }
    // Each query's results end with a null.
    PGresult* end = next_result(conn_);
    if (end) {
      PQclear(end);
      return broken();
    }
  }
  PGresult* sync = next_result(conn_);
  bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced || PQexitPipelineMode(conn_) == 0)
    return broken();
  sent_ = 0;
  return caf::none;
}

} // namespace taskpipe::postgres
