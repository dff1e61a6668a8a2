#include "store/sqlite/journal.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace taskpipe::sqlite {

namespace {

constexpr const char* journal_schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS batches(
  batch_id TEXT PRIMARY KEY,
  number INTEGER NOT NULL UNIQUE,
  admitted_ms INTEGER NOT NULL,
  deadline_ms INTEGER NOT NULL,
  idempotency_key TEXT UNIQUE,
  body_digest TEXT,
  total INTEGER NOT NULL,
  tasks BLOB,
  cancelled INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'running',
  finished_ms INTEGER,
  elapsed_ms REAL,
  succeeded INTEGER,
  failed INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_unfinished ON batches(finished_ms) WHERE finished_ms IS NULL;
CREATE TABLE IF NOT EXISTS batch_failures(
  batch_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  stage TEXT NOT NULL,
  code TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY(batch_id, position)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_failures_by_task ON batch_failures(batch_id, task_id);
CREATE INDEX IF NOT EXISTS batches_finished ON batches(finished_ms) WHERE finished_ms IS NOT NULL;
)sql";

std::int64_t as_signed(std::uint64_t x) {
  return static_cast<std::int64_t>(x);
}

} // namespace

caf::error create_journal_schema(connection& db) {
  return db.exec(journal_schema_sql);
}

journal_tables::journal_tables(connection& db, statements& st, transaction& txn)
  : db_(db),
    st_(st),
    txn_(txn),
    insert_batch_(db.prepare(
      "INSERT INTO batches(batch_id, number, admitted_ms, deadline_ms, idempotency_key, "
      "body_digest, total, tasks) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")),
    cancel_(db.prepare("UPDATE batches SET cancelled = 1 WHERE batch_id = ?1")),
    finish_(db.prepare("UPDATE batches SET state = ?2, finished_ms = ?3, succeeded = ?4, "
                       "failed = ?5, elapsed_ms = ?6, tasks = NULL WHERE batch_id = ?1")),
    insert_failure_(db.prepare("INSERT OR REPLACE INTO batch_failures(batch_id, position, "
                               "task_id, stage, code, reason) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")),
    unfinished_(db.prepare("SELECT batch_id, number, admitted_ms, deadline_ms, "
                           "coalesce(idempotency_key, ''), coalesce(body_digest, ''), tasks, "
                           "cancelled FROM batches WHERE finished_ms IS NULL ORDER BY admitted_ms")),
    notified_ids_(db.prepare("SELECT task_id FROM outbox WHERE batch_id = ?1")),
    applied_ids_(db.prepare("SELECT task_id FROM applied_updates WHERE batch_id = ?1")),
    report_(db.prepare("SELECT state, total, succeeded, failed, elapsed_ms, finished_ms "
                       "FROM batches WHERE batch_id = ?1 AND finished_ms >= ?2")),
    failures_(db.prepare("SELECT position, task_id, stage, code, reason FROM batch_failures "
                         "WHERE batch_id = ?1 AND task_id > ?2 ORDER BY task_id, position")),
    key_(db.prepare("SELECT number, coalesce(body_digest, '') FROM batches "
                    "WHERE idempotency_key = ?1 AND (finished_ms IS NULL OR finished_ms >= ?2)")),
    free_key_(db.prepare("UPDATE batches SET idempotency_key = NULL WHERE idempotency_key = ?1 "
                         "AND finished_ms < ?2")),
    expired_(db.prepare("SELECT batch_id FROM batches WHERE finished_ms < ?1 "
                        "ORDER BY finished_ms LIMIT ?2")),
    purge_failures_(db.prepare("DELETE FROM batch_failures WHERE batch_id = ?1 AND position IN "
                               "(SELECT position FROM batch_failures WHERE batch_id = ?1 LIMIT ?2)")),
    purge_batch_(db.prepare("DELETE FROM batches WHERE batch_id = ?1")) {
}

caf::expected<key_owner> journal_tables::find_idempotency_key(const std::string& key,
                                                             std::int64_t expired_before_ms) {
  auto* s = key_.get();
  reset_on_exit guard{s};
  bind_text(s, 1, key);
  sqlite3_bind_int64(s, 2, expired_before_ms);
  auto rc = db_.step(s);
  if (rc == SQLITE_DONE)
    return key_owner{};
  if (rc != SQLITE_ROW)
    return storage_error("looking up an Idempotency-Key failed: " + db_.errmsg());
  return key_owner{static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)), column_text(s, 1)};
}

template <class F>
caf::error journal_tables::in_transaction(const char* what, F body) {
  if (!db_.autocommit())
    return storage_error(fmt::format("{}: a transaction is already open", what));
  if (db_.step_once(st_.begin.get()) != SQLITE_DONE)
    return storage_error(fmt::format("{} failed: {}", what, db_.errmsg()));
  auto err = body();
  if (!err && db_.step_once(st_.commit.get()) != SQLITE_DONE)
    err = storage_error(fmt::format("{}: commit failed: {}", what, db_.errmsg()));
  if (err && !db_.autocommit())
    db_.step_once(st_.rollback.get()); // if this fails, the next BEGIN reports it
  return err;
}

template <class F>
caf::error journal_tables::in_group_or_transaction(const char* what, F body) {
  if (!txn_.in_group())
    return in_transaction(what, body);
  if (const auto& err = txn_.check())
    return err;
  if (auto err = db_.exec("SAVEPOINT journal"))
    return storage_error(fmt::format("{} failed: {}", what, reason_of(err)));
  auto err = body();
  if (err && !db_.autocommit()) // else SQLite rolled the whole group back: its commit says so
    db_.exec("ROLLBACK TO journal");
  if (!db_.autocommit())
    if (auto released = db_.exec("RELEASE journal"); released && !err)
      err = storage_error(fmt::format("{} failed: {}", what, reason_of(released)));
  return err;
}

caf::error journal_tables::journal(const std::vector<journaled_batch>& batches,
                                   std::int64_t expired_before_ms) {
  return in_group_or_transaction("journaling a batch", [&]() -> caf::error {
    auto* s = insert_batch_.get();
    for (const auto& b : batches) {
      auto id = batch_id_text(b.batch);
      if (!b.idempotency_key.empty()) { // an expired batch's key is free (not yet purged)
        auto* k = free_key_.get();
        reset_on_exit guard{k};
        bind_text(k, 1, b.idempotency_key);
        sqlite3_bind_int64(k, 2, expired_before_ms);
        if (db_.step(k) != SQLITE_DONE)
          return storage_error(fmt::format("journaling batch {} failed: {}", id, db_.errmsg()));
      }
      auto blob = encode_tasks(b.tasks);
      reset_on_exit guard{s};
      bind_text(s, 1, id);
      sqlite3_bind_int64(s, 2, as_signed(b.batch));
      sqlite3_bind_int64(s, 3, b.admitted_ms);
      sqlite3_bind_int64(s, 4, b.deadline_ms);
      if (b.idempotency_key.empty())
        sqlite3_bind_null(s, 5);
      else
        bind_text(s, 5, b.idempotency_key);
      bind_text(s, 6, b.body_digest);
      sqlite3_bind_int64(s, 7, static_cast<std::int64_t>(b.tasks.size()));
      sqlite3_bind_blob64(s, 8, blob.data(), blob.size(), SQLITE_STATIC);
      if (db_.step(s) != SQLITE_DONE)
        return storage_error(fmt::format("journaling batch {} failed: {}", id, db_.errmsg()));
    }
    return caf::none;
  });
}

caf::error journal_tables::record_outcomes(const std::vector<batch_outcome>& outcomes) {
  return in_group_or_transaction("recording batch outcomes", [&]() -> caf::error {
    for (const auto& o : outcomes) {
      auto id = batch_id_text(o.batch);
      if (o.finished_ms == 0) {
        auto* s = cancel_.get();
        reset_on_exit guard{s};
        bind_text(s, 1, id);
        if (db_.step(s) != SQLITE_DONE)
          return storage_error(fmt::format("recording the cancel of {} failed: {}", id,
                                           db_.errmsg()));
        continue;
      }
      auto* f = insert_failure_.get();
      for (const auto& failure : o.failures) {
        reset_on_exit guard{f};
        auto where = to_string(failure.where);
        auto code = to_string(failure.code);
        bind_text(f, 1, id);
        sqlite3_bind_int64(f, 2, failure.index);
        sqlite3_bind_int64(f, 3, failure.id);
        bind_text(f, 4, where);
        bind_text(f, 5, code);
        bind_text(f, 6, failure.reason);
        if (db_.step(f) != SQLITE_DONE)
          return storage_error(fmt::format("recording the failures of {} failed: {}", id,
                                           db_.errmsg()));
      }
      auto* s = finish_.get();
      reset_on_exit guard{s};
      auto state = to_string(o.state);
      bind_text(s, 1, id);
      bind_text(s, 2, state);
      sqlite3_bind_int64(s, 3, o.finished_ms);
      sqlite3_bind_int64(s, 4, static_cast<std::int64_t>(o.succeeded));
      sqlite3_bind_int64(s, 5, static_cast<std::int64_t>(o.failures.size()));
      sqlite3_bind_double(s, 6, o.elapsed_ms);
      if (db_.step(s) != SQLITE_DONE)
        return storage_error(fmt::format("recording the end of {} failed: {}", id,
                                         db_.errmsg()));
    }
    return caf::none;
  });
}

caf::error journal_tables::read_ids(sqlite3_stmt* s, const std::string& batch,
                                    std::vector<std::int64_t>& out) {
  reset_on_exit guard{s};
  bind_text(s, 1, batch);
  int rc;
  while ((rc = db_.step(s)) == SQLITE_ROW)
    out.push_back(sqlite3_column_int64(s, 0));
  if (rc != SQLITE_DONE)
    return storage_error("reading the rows of batch " + batch + " failed: " + db_.errmsg());
  return caf::none;
}

caf::expected<resumable_batches> journal_tables::unfinished_batches() {
  resumable_batches result;
  std::vector<std::string> ids;
  {
    auto* s = unfinished_.get();
    reset_on_exit guard{s};
    int rc;
    while ((rc = db_.step(s)) == SQLITE_ROW) {
      resumable_batch r;
      auto& b = r.admitted;
      ids.push_back(column_text(s, 0));
      b.batch = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
      b.admitted_ms = sqlite3_column_int64(s, 2);
      b.deadline_ms = sqlite3_column_int64(s, 3);
      b.idempotency_key = column_text(s, 4);
      b.body_digest = column_text(s, 5);
      std::string_view blob{static_cast<const char*>(sqlite3_column_blob(s, 6)),
                            static_cast<std::size_t>(sqlite3_column_bytes(s, 6))};
      if (!decode_tasks(blob, b.tasks))
        return storage_error("the journal of batch " + ids.back() + " cannot be read");
      r.cancelled = sqlite3_column_int64(s, 7) != 0;
      result.batches.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE)
      return storage_error("reading the journal failed: " + db_.errmsg());
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto& r = result.batches[i];
    if (auto err = read_ids(notified_ids_.get(), ids[i], r.notified_ids))
      return err;
    if (auto err = read_ids(applied_ids_.get(), ids[i], r.applied_ids))
      return err;
  }
  return result;
}

caf::error journal_tables::read_head(const std::string& id, std::int64_t expired_before_ms,
                                     batch_report& r) {
  auto* s = report_.get();
  reset_on_exit guard{s};
  bind_text(s, 1, id);
  sqlite3_bind_int64(s, 2, expired_before_ms);
  auto rc = db_.step(s);
  if (rc == SQLITE_DONE)
    return make_store_error(failure_code::not_found, "no finished batch " + id);
  if (rc != SQLITE_ROW)
    return storage_error("reading batch " + id + " failed: " + db_.errmsg());
  r.batch_id = id;
  r.state = column_text(s, 0) == "cancelled" ? batch_state::cancelled : batch_state::done;
  r.total = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
  r.succeeded = static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
  r.failed = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
  r.elapsed_ms = sqlite3_column_double(s, 4);
  r.finished_ms = sqlite3_column_int64(s, 5);
  return caf::none;
}

caf::error journal_tables::read_failures(std::uint64_t batch, const std::string& id,
                                         std::int64_t after, std::size_t limit,
                                         std::vector<task_failure>& out, bool& more) {
  auto* s = failures_.get();
  reset_on_exit guard{s};
  bind_text(s, 1, id);
  sqlite3_bind_int64(s, 2, after);
  more = false;
  int rc;
  while ((rc = db_.step(s)) == SQLITE_ROW) {
    auto task = sqlite3_column_int64(s, 1);
    // Stepping stops one row past the page (the page keeps all of its last id's failures).
    if (out.size() >= limit && task != out.back().id) {
      more = true;
      break;
    }
    task_failure f;
    f.batch = batch;
    f.index = static_cast<std::uint32_t>(sqlite3_column_int64(s, 0));
    f.id = task;
    from_string(column_text(s, 2), f.where);
    from_string(column_text(s, 3), f.code);
    f.reason = column_text(s, 4);
    out.push_back(std::move(f));
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return storage_error("reading the failures of " + id + " failed: " + db_.errmsg());
  return caf::none;
}

caf::expected<batch_report> journal_tables::finished_report(std::uint64_t batch,
                                                            std::int64_t expired_before_ms) {
  auto id = batch_id_text(batch);
  batch_report r;
  if (auto err = read_head(id, expired_before_ms, r))
    return err;
  r.failures.reserve(r.failed);
  bool more = false;
  if (auto err = read_failures(batch, id, std::numeric_limits<std::int64_t>::min(),
                               std::numeric_limits<std::size_t>::max(), r.failures, more))
    return err;
  return r;
}

caf::expected<failure_page> journal_tables::failures_after(std::uint64_t batch,
                                                           std::int64_t after, std::size_t limit,
                                                           std::int64_t expired_before_ms) {
  auto id = batch_id_text(batch);
  batch_report head;
  if (auto err = read_head(id, expired_before_ms, head))
    return err;
  failure_page page;
  page.batch_id = id;
  if (auto err = read_failures(batch, id, after, std::max<std::size_t>(limit, 1), page.failures,
                               page.more))
    return err;
  if (page.more)
    page.next = page.failures.back().id;
  return page;
}

caf::expected<bool> journal_tables::purge_expired(std::size_t max_rows,
                                                  std::int64_t expired_before_ms) {
  // The oldest expired batches: each loses its failures (in slices), then its row. A batch
  // whose row is still there is expired for every reader already (finished_ms), so a purge
  // that stops halfway leaves nothing visible behind.
  std::vector<std::string> ids;
  {
    auto* s = expired_.get();
    reset_on_exit guard{s};
    sqlite3_bind_int64(s, 1, expired_before_ms);
    sqlite3_bind_int64(s, 2, 64);
    int rc;
    while ((rc = db_.step(s)) == SQLITE_ROW)
      ids.push_back(column_text(s, 0));
    if (rc != SQLITE_DONE)
      return storage_error("finding expired batches failed: " + db_.errmsg());
  }
  if (ids.empty())
    return false;
  bool more = ids.size() == 64;
  auto budget = static_cast<std::int64_t>(std::max<std::size_t>(max_rows, 1));
  auto err = in_transaction("purging expired batches", [&]() -> caf::error {
    for (const auto& id : ids) {
      if (budget <= 0) {
        more = true;
        return caf::none;
      }
      auto* f = purge_failures_.get();
      reset_on_exit guard{f};
      bind_text(f, 1, id);
      sqlite3_bind_int64(f, 2, budget);
      if (db_.step(f) != SQLITE_DONE)
        return storage_error("purging the failures of " + id + " failed: " + db_.errmsg());
      auto removed = static_cast<std::int64_t>(sqlite3_changes(db_.get()));
      budget -= removed;
      if (removed > 0 && budget <= 0) { // perhaps not all of them: the next call goes on
        more = true;
        return caf::none;
      }
      auto* b = purge_batch_.get();
      reset_on_exit batch_guard{b};
      bind_text(b, 1, id);
      if (db_.step(b) != SQLITE_DONE)
        return storage_error("purging batch " + id + " failed: " + db_.errmsg());
      budget -= 1;
    }
    return caf::none;
  });
  if (err)
    return err;
  return more;
}

} // namespace taskpipe::sqlite
