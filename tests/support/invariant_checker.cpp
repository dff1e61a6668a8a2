#include "invariant_checker.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <map>
#include <set>
#include <utility>
#include <memory>
#include <stdexcept>

namespace taskpipe::test {

namespace {

using json = nlohmann::json;

/// The store's rows as the checker reads them: a SQLite file or a PostgreSQL database.
struct database {
  virtual ~database() = default;
  /// Whether `table` has the row (batch_id, task_id).
  virtual bool has(const char* table, const std::string& batch, std::int64_t id) = 0;
};

struct sqlite_database final : database {
  sqlite3* db = nullptr;
  explicit sqlite_database(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot open " + path + ": " + sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10'000);
  }
  ~sqlite_database() override {
    sqlite3_close(db);
  }

  bool has(const char* table, const std::string& batch, std::int64_t id) override {
    auto sql = std::string{"SELECT 1 FROM "} + table + " WHERE batch_id = ?1 AND task_id = ?2";
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt{raw, sqlite3_finalize};
    sqlite3_bind_text(raw, 1, batch.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(raw, 2, id);
    auto rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
    return rc == SQLITE_ROW;
  }
};

/// PostgreSQL: each table's keys of the batch are read once.
struct postgres_database final : database {
  PGconn* conn = nullptr;
  std::map<std::string, std::set<std::pair<std::string, std::int64_t>>> rows;

  explicit postgres_database(const std::string& conninfo) {
    conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string why = PQerrorMessage(conn);
      PQfinish(conn);
      throw std::runtime_error("cannot connect to " + conninfo + ": " + why);
    }
  }
  ~postgres_database() override {
    PQfinish(conn);
  }

  bool has(const char* table, const std::string& batch, std::int64_t id) override {
    auto [it, added] = rows.try_emplace(std::string{table} + "/" + batch);
    if (added) {
      auto sql = std::string{"SELECT task_id FROM "} + table + " WHERE batch_id = $1";
      const char* values[] = {batch.c_str()};
      PGresult* r = PQexecParams(conn, sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0);
      std::unique_ptr<PGresult, void (*)(PGresult*)> guard{r, PQclear};
      if (PQresultStatus(r) != PGRES_TUPLES_OK)
        throw std::runtime_error(sql + ": " + PQresultErrorMessage(r));
      for (int row = 0; row < PQntuples(r); ++row)
        it->second.emplace(batch, std::stoll(PQgetvalue(r, row, 0)));
    }
    return it->second.count({batch, id}) != 0;
  }
};

std::unique_ptr<database> open_database(const std::string& location) {
  if (location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0)
    return std::make_unique<postgres_database>(location);
  return std::make_unique<sqlite_database>(location);
}

bool says_applied(const std::string& reason) {
  return reason.find("was applied") != std::string::npos
         || reason.find("may have been applied") != std::string::npos;
}

} // namespace

std::vector<std::string> check_invariant(const json& request, const json& report,
                                         const std::string& db_path) {
  std::vector<std::string> problems;
  auto problem = [&](std::int64_t id, const std::string& what) {
    problems.push_back("task " + std::to_string(id) + ": " + what);
  };
  if (report.value("pending", 0) != 0)
    problems.push_back("the report is not final: " + report.dump());
  const auto batch = report.at("batch_id").get<std::string>();
  std::map<std::int64_t, int> occurrences;
  for (const auto& t : request.at("tasks"))
    ++occurrences[t.at("id").get<std::int64_t>()];
  std::map<std::int64_t, std::vector<json>> failures;
  for (const auto& f : report.at("failures"))
    failures[f.at("id").get<std::int64_t>()].push_back(f);
  auto total = report.at("total").get<std::uint64_t>();
  if (total != request.at("tasks").size())
    problems.push_back("total " + std::to_string(total) + " for "
                       + std::to_string(request.at("tasks").size()) + " tasks");
  if (report.at("succeeded").get<std::uint64_t>() + report.at("failed").get<std::uint64_t>()
      != total)
    problems.push_back("succeeded + failed != total");
  if (report.at("failures").size() != report.at("failed").get<std::size_t>())
    problems.push_back("failures listed != failed");
  auto store = open_database(db_path);
  auto& db = *store;
  std::uint64_t succeeded = 0;
  for (const auto& [id, count] : occurrences) {
    const auto& fs = failures[id];
    // The first occurrence owns the (batch, id) rows; repeats fail duplicate_in_batch.
    const json* first = nullptr;
    int duplicates = 0;
    for (const auto& f : fs) {
      if (f.at("code") == "duplicate_in_batch")
        ++duplicates;
      else if (first == nullptr)
        first = &f;
      else
        problem(id, "two outcomes for one position: " + f.dump());
    }
    if (duplicates != count - 1)
      problem(id, std::to_string(duplicates) + " duplicate_in_batch failures for "
                    + std::to_string(count) + " occurrences");
    bool audited = db.has("audit", batch, id);
    bool applied = db.has("applied_updates", batch, id);
    bool notified = db.has("outbox", batch, id);
    if (first == nullptr) {
      ++succeeded;
      if (!audited || !applied || !notified)
        problem(id, std::string{"succeeded, but rows are missing:"} + (audited ? "" : " audit")
                      + (applied ? "" : " applied_updates") + (notified ? "" : " outbox"));
      continue;
    }
    auto where = first->at("stage").get<std::string>();
    auto reason = first->at("reason").get<std::string>();
    auto text = first->dump();
    if (where == "notify") {
      if (!applied || notified || !says_applied(reason))
        problem(id, "failed at notify: expected applied, no outbox row and a reason that says "
                    "so; applied=" + std::to_string(applied) + " outbox="
                      + std::to_string(notified) + " " + text);
    } else if (where == "update") {
      if (applied && !says_applied(reason))
        problem(id, "failed at update and applied, but the reason does not say so: " + text);
      if (notified)
        problem(id, "failed at update but has an outbox row: " + text);
    } else if (applied || notified) {
      problem(id, "failed before Update but applied=" + std::to_string(applied)
                    + " outbox=" + std::to_string(notified) + ": " + text);
    }
  }
  if (succeeded != report.at("succeeded").get<std::uint64_t>())
    problems.push_back("the report says " + report.at("succeeded").dump() + " succeeded; "
                       + std::to_string(succeeded) + " tasks have no failure");
  return problems;
}

} // namespace taskpipe::test
