#include "store/postgres/journal.hpp"

#include "store/postgres/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace taskpipe::postgres {

namespace {

namespace jstmt {
constexpr const char* insert_batch = "taskpipe_journal_insert";
constexpr const char* cancel = "taskpipe_journal_cancel";
constexpr const char* finish = "taskpipe_journal_finish";
constexpr const char* claim = "taskpipe_journal_claim";
constexpr const char* unfinished = "taskpipe_journal_unfinished";
constexpr const char* notified_ids = "taskpipe_journal_notified";
constexpr const char* applied_ids = "taskpipe_journal_applied";
constexpr const char* report = "taskpipe_journal_report";
constexpr const char* failures = "taskpipe_journal_failures";
constexpr const char* key = "taskpipe_journal_key";
constexpr const char* free_key = "taskpipe_journal_free_key";
constexpr const char* page = "taskpipe_journal_page";
constexpr const char* page_more = "taskpipe_journal_page_more";
constexpr const char* purge_failures = "taskpipe_journal_purge_failures";
constexpr const char* purge_batches = "taskpipe_journal_purge_batches";
constexpr const char* expired_left = "taskpipe_journal_expired_left";
} // namespace jstmt

const std::pair<const char*, const char*> statements[] = {
  {jstmt::insert_batch,
   "INSERT INTO batches(batch_id, number, admitted_ms, deadline_ms, idempotency_key, "
   "body_digest, total, tasks, front) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)"},
  {jstmt::cancel, "UPDATE batches SET cancelled = 1 WHERE batch_id = $1"},
  // The failures ($7.. as arrays: position, task id, stage, code, reason) and the end, in one
  // statement; a failure recorded again (a retry) replaces itself, as SQLite's INSERT OR REPLACE.
  {jstmt::finish,
   "WITH f AS (INSERT INTO batch_failures(batch_id, position, task_id, stage, code, reason) "
   "SELECT $1, u.position, u.task_id, u.stage, u.code, u.reason FROM unnest($7::bigint[], "
   "$8::bigint[], $9::text[], $10::text[], $11::text[]) AS u(position, task_id, stage, code, "
   "reason) ON CONFLICT (batch_id, position) DO UPDATE SET task_id = excluded.task_id, "
   "stage = excluded.stage, code = excluded.code, reason = excluded.reason) "
   "UPDATE batches SET state = $2, finished_ms = $3, succeeded = $4, failed = $5, "
   "elapsed_ms = $6, tasks = NULL WHERE batch_id = $1"},
  // The unfinished batches of fronts that are gone become this front's ($1): a front holds the
  // advisory lock of its number (shared, on every connection) while it runs.
  {jstmt::claim,
   "UPDATE batches b SET front = $1 WHERE finished_ms IS NULL AND front IS DISTINCT FROM $1 "
   "AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
   "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = "
   "current_database()) AND ((l.classid::bigint << 32) | l.objid::bigint) = b.front)"},
  {jstmt::unfinished,
   "SELECT number, admitted_ms, deadline_ms, coalesce(idempotency_key, ''), "
   "coalesce(body_digest, ''), tasks, cancelled FROM batches WHERE finished_ms IS NULL "
   "AND front = $1 ORDER BY admitted_ms, number"},
  {jstmt::notified_ids, "SELECT b.number, o.task_id FROM batches b JOIN outbox o "
                       "ON o.batch_id = b.batch_id WHERE b.finished_ms IS NULL AND b.front = $1"},
  {jstmt::applied_ids, "SELECT b.number, a.task_id FROM batches b JOIN applied_updates a "
                      "ON a.batch_id = b.batch_id WHERE b.finished_ms IS NULL AND b.front = $1"},
  {jstmt::report, "SELECT state, total, succeeded, failed, elapsed_ms, finished_ms FROM batches "
                  "WHERE batch_id = $1 AND finished_ms >= $2"},
  {jstmt::failures, "SELECT position, task_id, stage, code, reason FROM batch_failures "
                   "WHERE batch_id = $1 ORDER BY task_id, position"},
  {jstmt::key, "SELECT number, coalesce(body_digest, '') FROM batches WHERE idempotency_key = $1 "
               "AND (finished_ms IS NULL OR finished_ms >= $2)"},
  // An expired batch's key is free (its row may not be purged yet).
  {jstmt::free_key, "UPDATE batches SET idempotency_key = NULL WHERE idempotency_key = $1 "
                    "AND finished_ms < $2"},
  // A page: the failures with task id > $2 up to the $3-th one's id, all of that id's included;
  // page_more: whether any follow it.
#define TASKPIPE_PG_PAGE_END                                                                     \
  "coalesce((SELECT task_id FROM batch_failures WHERE batch_id = $1 AND task_id > $2 "           \
  "ORDER BY task_id, position OFFSET $3::bigint - 1 LIMIT 1), 9223372036854775807)"
  {jstmt::page, "SELECT position, task_id, stage, code, reason FROM batch_failures "
                "WHERE batch_id = $1 AND task_id > $2 AND task_id <= " TASKPIPE_PG_PAGE_END
                " ORDER BY task_id, position"},
  {jstmt::page_more, "SELECT EXISTS (SELECT 1 FROM batch_failures WHERE batch_id = $1 "
                     "AND task_id > " TASKPIPE_PG_PAGE_END ")"},
#undef TASKPIPE_PG_PAGE_END
  // Purging: up to $2 failure rows of expired batches, then the expired batches without
  // failures left (a batch row still there is expired for every reader already).
  {jstmt::purge_failures,
   "DELETE FROM batch_failures WHERE ctid IN (SELECT f.ctid FROM batch_failures f JOIN batches b "
   "ON b.batch_id = f.batch_id WHERE b.finished_ms < $1 LIMIT $2)"},
  {jstmt::purge_batches,
   "DELETE FROM batches WHERE batch_id IN (SELECT b.batch_id FROM batches b WHERE "
   "b.finished_ms < $1 AND NOT EXISTS (SELECT 1 FROM batch_failures f WHERE f.batch_id = "
   "b.batch_id) ORDER BY b.finished_ms LIMIT $2)"},
  {jstmt::expired_left, "SELECT EXISTS (SELECT 1 FROM batches WHERE finished_ms < $1)"},
};

struct query {
  const char* statement;
  params p;
};

/// Runs `queries` as one transaction opened with `begin`, in one pipeline (one round trip); on
/// success `out[i]` holds query i's result. Runs it again on a new connection once when the
/// connection had ended and nothing of it can have committed, or when it is `idempotent`.
caf::error round_trip(connection& db, const std::string& what, const char* begin,
                      const std::vector<query>& queries, std::vector<result>& out,
                      bool idempotent) {
  std::string why;
  bool in_doubt = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto err = db.ensure())
      return storage_error(what + " failed: " + reason_of(err));
    bool commit_sent = false;
    auto sent = db.begin_pipeline();
    if (!sent)
      sent = db.send_text(begin);
    for (const auto& q : queries)
      if (!sent)
        sent = db.send_prepared(q.statement, q.p);
    if (!sent) {
      sent = db.send_text("COMMIT");
      commit_sent = !sent;
    }
    std::vector<connection::answer> answers;
    auto broken = db.finish_pipeline(answers);
    auto commit_at = queries.size() + 1;
    if (commit_sent && answers.size() > commit_at && answers[commit_at].ok) {
      out.clear();
      for (std::size_t i = 1; i < commit_at; ++i)
        out.push_back(std::move(answers[i].res));
      return caf::none;
    }
    why.clear();
    for (const auto& a : answers)
      if (!a.ok && a.res) {
        why = a.error;
        break;
      }
    if (why.empty())
      why = broken ? reason_of(broken) : sent ? reason_of(sent) : "not committed";
    if (db.ok()) {
      // The server refused it (and ran nothing of it): running it again would fail alike.
      if (PQtransactionStatus(db.get()) != PQTRANS_IDLE && !db.exec("ROLLBACK"))
        db.connect(); // (a failed rollback leaves the connection unusable)
      return storage_error(what + " failed: " + why);
    }
    bool ended_first = !answers.empty() && !answers[0].ok && answers[0].res;
    in_doubt = commit_sent && !ended_first && !idempotent;
    if (in_doubt)
      break;
  }
  return storage_error(what + " failed: " + why
                       + (in_doubt ? " (whether it was recorded is unknown)" : ""));
}

std::int64_t int_at(const PGresult* r, int row, int col) {
  const char* text = PQgetvalue(r, row, col);
  std::int64_t x = 0;
  std::from_chars(text, text + PQgetlength(r, row, col), x);
  return x;
}

std::string text_at(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
}

std::string as_text(std::uint64_t batch) {
  return std::to_string(static_cast<std::int64_t>(batch)); // the same bits as a bigint
}

/// A bytea column (libpq's text form, "\x" and hex digits) as its bytes.
bool blob_at(const PGresult* r, int row, int col, std::string& out) {
  std::size_t n = 0;
  auto* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)),
                                &n);
  if (!bytes)
    return false;
  out.assign(reinterpret_cast<const char*>(bytes), n);
  PQfreemem(bytes);
  return true;
}

/// Appends the failures of a result (position, task id, stage, code, reason) to `out`.
void read_failures(const PGresult* r, std::uint64_t batch, std::vector<task_failure>& out) {
  out.reserve(out.size() + static_cast<std::size_t>(PQntuples(r)));
  for (int row = 0; row < PQntuples(r); ++row) {
    task_failure f;
    f.batch = batch;
    f.index = static_cast<std::uint32_t>(int_at(r, row, 0));
    f.id = int_at(r, row, 1);
    from_string(text_at(r, row, 2), f.where);
    from_string(text_at(r, row, 3), f.code);
    f.reason = text_at(r, row, 4);
    out.push_back(std::move(f));
  }
}

} // namespace

caf::error prepare_journal_statements(connection& db) {
  return db.prepare_all(statements);
}

caf::error number_batches(connection& db, std::vector<journaled_batch>& batches) {
  if (batches.empty())
    return caf::none;
  std::vector<query> queries(1, query{stmt::number_batches, {}});
  queries.front().p.add(std::to_string(batches.size()));
  std::vector<result> out;
  if (auto err = round_trip(db, "numbering batches", "BEGIN", queries, out, true))
    return err;
  auto* r = out.front().get();
  if (PQntuples(r) != static_cast<int>(batches.size()))
    return storage_error("numbering batches failed: the sequence gave too few numbers");
  for (std::size_t i = 0; i < batches.size(); ++i)
    batches[i].batch = static_cast<std::uint64_t>(int_at(r, static_cast<int>(i), 0));
  return caf::none;
}

caf::error take_front_lock(connection& db, std::int64_t front) {
  params p;
  p.add(std::to_string(front));
  auto done = db.exec("SELECT pg_advisory_lock_shared($1::bigint)", p);
  if (!done)
    return storage_error("PostgreSQL " + db.target() + ": " + reason_of(done.error()));
  return caf::none;
}

caf::error journal(connection& db, const std::vector<journaled_batch>& batches,
                   std::int64_t front, std::int64_t expired_before_ms) {
  if (batches.empty())
    return caf::none;
  std::vector<query> queries;
  queries.reserve(batches.size());
  for (const auto& b : batches) {
    if (!b.idempotency_key.empty()) {
      query k{jstmt::free_key, {}};
      k.p.add(b.idempotency_key);
      k.p.add(std::to_string(expired_before_ms));
      queries.push_back(std::move(k));
    }
    query q{jstmt::insert_batch, {}};
    q.p.add(batch_id_text(b.batch));
    q.p.add(as_text(b.batch));
    q.p.add(std::to_string(b.admitted_ms));
    q.p.add(std::to_string(b.deadline_ms));
    if (b.idempotency_key.empty())
      q.p.add_null();
    else
      q.p.add(b.idempotency_key);
    q.p.add(b.body_digest);
    q.p.add(std::to_string(b.tasks.size()));
    q.p.add_binary(encode_tasks(b.tasks));
    q.p.add(std::to_string(front));
    queries.push_back(std::move(q));
  }
  std::vector<result> out;
  auto what = batches.size() == 1 ? "journaling batch " + batch_id_text(batches.front().batch)
                                  : fmt::format("journaling {} batches", batches.size());
  return round_trip(db, what, "BEGIN", queries, out, false);
}

caf::error record_outcomes(connection& db, const std::vector<batch_outcome>& outcomes) {
  if (outcomes.empty())
    return caf::none;
  std::vector<query> queries;
  queries.reserve(outcomes.size());
  for (const auto& o : outcomes) {
    auto id = batch_id_text(o.batch);
    if (o.finished_ms == 0) {
      query q{jstmt::cancel, {}};
      q.p.add(std::move(id));
      queries.push_back(std::move(q));
      continue;
    }
    std::string positions = "{", ids = "{", stages = "{", codes = "{", reasons = "{";
    for (std::size_t i = 0; i < o.failures.size(); ++i) {
      const auto& f = o.failures[i];
      if (i > 0) {
        positions += ',';
        ids += ',';
        stages += ',';
        codes += ',';
        reasons += ',';
      }
      positions += std::to_string(f.index);
      ids += std::to_string(f.id);
      stages += to_string(f.where); // plain words: no quoting needed
      codes += to_string(f.code);
      append_array_text(reasons, f.reason);
    }
    query q{jstmt::finish, {}};
    q.p.add(std::move(id));
    q.p.add(to_string(o.state));
    q.p.add(std::to_string(o.finished_ms));
    q.p.add(std::to_string(o.succeeded));
    q.p.add(std::to_string(o.failures.size()));
    q.p.add(fmt::format("{}", o.elapsed_ms)); // the shortest text that reads back the same
    for (auto* array : {&positions, &ids, &stages, &codes, &reasons})
      q.p.add(std::move(*array) + '}');
    queries.push_back(std::move(q));
  }
  std::vector<result> out;
  // Recording again what was recorded changes nothing: safe to run again after a lost connection.
  return round_trip(db, "recording batch outcomes", "BEGIN", queries, out, true);
}

caf::expected<resumable_batches> unfinished_batches(connection& db, std::int64_t front) {
  std::vector<query> queries{{jstmt::claim, {}}, {jstmt::unfinished, {}}, {jstmt::notified_ids, {}},
                             {jstmt::applied_ids, {}}};
  for (auto& q : queries)
    q.p.add(std::to_string(front));
  std::vector<result> out;
  // (Read committed: a front starting at the same time claims a batch first or sees it claimed.
  // A batch this front claimed is its alone, so the reads after the claim agree.)
  if (auto err = round_trip(db, "reading the journal", "BEGIN", queries, out, true))
    return err;
  resumable_batches found;
  std::unordered_map<std::uint64_t, std::size_t> at;
  auto* r = out[1].get();
  for (int row = 0; row < PQntuples(r); ++row) {
    resumable_batch b;
    auto& a = b.admitted;
    a.batch = static_cast<std::uint64_t>(int_at(r, row, 0));
    a.admitted_ms = int_at(r, row, 1);
    a.deadline_ms = int_at(r, row, 2);
    a.idempotency_key = text_at(r, row, 3);
    a.body_digest = text_at(r, row, 4);
    std::string blob;
    if (PQgetisnull(r, row, 5) || !blob_at(r, row, 5, blob) || !decode_tasks(blob, a.tasks))
      return storage_error("the journal of batch " + batch_id_text(a.batch) + " cannot be read");
    b.cancelled = int_at(r, row, 6) != 0;
    at.emplace(a.batch, found.batches.size());
    found.batches.push_back(std::move(b));
  }
  for (int which : {2, 3}) {
    auto* ids = out[static_cast<std::size_t>(which)].get();
    for (int row = 0; row < PQntuples(ids); ++row) {
      auto i = at.find(static_cast<std::uint64_t>(int_at(ids, row, 0)));
      if (i == at.end())
        continue;
      auto& b = found.batches[i->second];
      (which == 2 ? b.notified_ids : b.applied_ids).push_back(int_at(ids, row, 1));
    }
  }
  return found;
}

caf::expected<batch_report> finished_report(connection& db, std::uint64_t batch,
                                            std::int64_t expired_before_ms) {
  auto id = batch_id_text(batch);
  std::vector<query> queries{{jstmt::report, {}}, {jstmt::failures, {}}};
  for (auto& q : queries)
    q.p.add(id);
  queries[0].p.add(std::to_string(expired_before_ms));
  std::vector<result> out;
  if (auto err = round_trip(db, "reading batch " + id, "BEGIN READ ONLY", queries, out, true))
    return err;
  auto* header = out[0].get();
  if (PQntuples(header) == 0)
    return make_store_error(failure_code::not_found, "no finished batch " + id);
  batch_report r;
  r.batch_id = id;
  r.state = text_at(header, 0, 0) == "cancelled" ? batch_state::cancelled : batch_state::done;
  r.total = static_cast<std::uint64_t>(int_at(header, 0, 1));
  r.succeeded = static_cast<std::uint64_t>(int_at(header, 0, 2));
  r.failed = static_cast<std::uint64_t>(int_at(header, 0, 3));
  r.elapsed_ms = std::strtod(PQgetvalue(header, 0, 4), nullptr);
  r.finished_ms = int_at(header, 0, 5);
  read_failures(out[1].get(), batch, r.failures);
  return r;
}

caf::expected<failure_page> failures_after(connection& db, std::uint64_t batch,
                                           std::int64_t after, std::size_t limit,
                                           std::int64_t expired_before_ms) {
  auto id = batch_id_text(batch);
  std::vector<query> queries{{jstmt::report, {}}, {jstmt::page, {}}, {jstmt::page_more, {}}};
  queries[0].p.add(id);
  queries[0].p.add(std::to_string(expired_before_ms));
  for (std::size_t i = 1; i < queries.size(); ++i) {
    queries[i].p.add(id);
    queries[i].p.add(std::to_string(after));
    queries[i].p.add(std::to_string(std::max<std::size_t>(limit, 1)));
  }
  std::vector<result> out;
  if (auto err = round_trip(db, "reading the failures of " + id, "BEGIN ISOLATION LEVEL "
                            "REPEATABLE READ READ ONLY", queries, out, true))
    return err;
  if (PQntuples(out[0].get()) == 0)
    return make_store_error(failure_code::not_found, "no finished batch " + id);
  failure_page page;
  page.batch_id = id;
  read_failures(out[1].get(), batch, page.failures);
  page.more = text_at(out[2].get(), 0, 0) == "t";
  if (page.more && !page.failures.empty())
    page.next = page.failures.back().id;
  return page;
}

caf::expected<bool> purge_expired(connection& db, std::size_t max_rows,
                                  std::int64_t expired_before_ms) {
  auto before = std::to_string(expired_before_ms);
  std::vector<query> queries{{jstmt::purge_failures, {}}, {jstmt::purge_batches, {}},
                             {jstmt::expired_left, {}}};
  for (auto& q : queries)
    q.p.add(before);
  queries[0].p.add(std::to_string(std::max<std::size_t>(max_rows, 1)));
  queries[1].p.add(std::to_string(std::max<std::size_t>(max_rows / 4, 1)));
  std::vector<result> out;
  if (auto err = round_trip(db, "purging expired batches", "BEGIN", queries, out, true))
    return err;
  return text_at(out[2].get(), 0, 0) == "t";
}

caf::expected<key_owner> find_idempotency_key(connection& db, const std::string& key,
                                              std::int64_t expired_before_ms) {
  std::vector<query> queries{{jstmt::key, {}}};
  queries.front().p.add(key);
  queries.front().p.add(std::to_string(expired_before_ms));
  std::vector<result> out;
  if (auto err = round_trip(db, "looking up an Idempotency-Key", "BEGIN READ ONLY", queries, out,
                            true))
    return err;
  auto* r = out.front().get();
  if (PQntuples(r) == 0)
    return key_owner{};
  return key_owner{static_cast<std::uint64_t>(int_at(r, 0, 0)), text_at(r, 0, 1)};
}

} // namespace taskpipe::postgres
