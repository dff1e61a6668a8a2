// The PostgreSQL task store: the store every node of a deployment shares.
//
// Schema (schema.cpp; created when absent, under an advisory lock): the contract's tables as in
// SQLite, integers bigint, everything else text (timestamps too, "2026-11-27T23:01:02.345Z"):
//   tasks(id PRIMARY KEY, type, summary, version, updated_at)
//   audit(batch_id, task_id, old_type, old_summary, new_type, new_summary, at)
//   applied_updates(batch_id, task_id, version, at, superseded_by)   Update's record that it
//                                                      applied (or was superseded, per-key order)
//   outbox(batch_id, task_id, message, created_at)
//   task_order(task_id PRIMARY KEY, batch_id)          each task's newest applied batch
//   batches(batch_id, number, admitted_ms, ..., tasks bytea, ...), batch_failures(...)
//                                                      the batch journal, as SQLite's (journal.*)
//   taskpipe_schema(version)                           one row: the schema version (3)
//   sequence taskpipe_batch_numbers                    the batch numbers (admission stamps)
// each row table keyed by (batch_id, task_id), batch_id COLLATE "C" so that it sorts like the
// batch numbers, inserted only where the row is absent (WHERE NOT EXISTS; a row another writer
// inserts meanwhile reruns the group), so a retried task changes nothing the second time,
// whichever node retries it. Update's per-key order and audit correction are SQLite's
// (schema.cpp says how).
//
// Batch numbers. Every front on the database takes its batch numbers from the sequence (one
// round trip per group of batches admitted together, number_batches), so that no two fronts use
// the same number and the numbers are the admission order across all of them: Update's per-key
// order compares them.
//
// Several fronts: each batch row names its front, and a front resumes only the unfinished batches
// of fronts that are gone (journal.hpp).
//
// One connection, owned by the store actor's own thread (the calls block). A group (the store
// actor's run_group) is one transaction sent as one libpq pipeline: BEGIN, one prepared
// statement per chunk over arrays (group.*: unnest($1::text[], $2::bigint[], ...)), COMMIT, one
// sync: one round trip per group however many chunks and tasks it holds. Each statement answers
// with the task ids whose work cannot be done (the task is gone), so a task's result is known
// without a statement per task.
//
// Failures. A statement the server refuses aborts the whole transaction (PostgreSQL has no
// statement-level rollback without savepoints): every task of the group fails storage_error
// "<stage> commit failed: <the server's reason>". When the connection breaks (the server
// restarted, the network dropped), the store connects again and runs the group once more: every
// write is keyed, so a group that did commit before the break changes nothing the second time,
// and one that did not commits now. If that fails too, the group's tasks fail storage_error with
// the reason; an Update whose first commit may have gone through says "the update may have been
// applied". Later groups connect again (one attempt per group: no busy loop while the server is
// down). Notify's failures say "the update was applied" (it committed in an earlier group).
#include "store/postgres/postgres_store.hpp"

#include "store/postgres/connection.hpp"
#include "store/postgres/group.hpp"
#include "store/postgres/journal.hpp"
#include "store/postgres/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>

namespace taskpipe {

namespace {

using namespace taskpipe::postgres;

/// How a group's transaction ended.
enum class outcome { committed, failed, unknown };

class postgres_store final : public task_store {
public:
  explicit postgres_store(std::string conninfo) : db_(std::move(conninfo)), front_(new_front()) {
    db_.on_connect = [front = front_](connection& c) -> caf::error {
      // The planner's settings (schema.hpp). The server's keepalives notice within about a
      // minute that this node's machine is gone, ending its session and so its front lock
      // (journal.hpp); the default is hours.
      if (auto done = c.exec(planner_settings_sql); !done)
        return storage_error("PostgreSQL " + c.target() + ": " + reason_of(done.error()));
      if (auto done = c.exec("SELECT set_config('tcp_keepalives_idle', '30', false), "
                             "set_config('tcp_keepalives_interval', '10', false), "
                             "set_config('tcp_keepalives_count', '3', false)");
          !done)
        return storage_error("PostgreSQL " + c.target() + ": " + reason_of(done.error()));
      if (auto err = create_schema(c))
        return err;
      if (auto err = prepare_statements(c))
        return err;
      if (auto err = prepare_journal_statements(c))
        return err;
      return take_front_lock(c, front);
    };
  }

  caf::error open() {
    return db_.connect();
  }

  bool blocks() const override {
    return true;
  }

  caf::error seed(std::int64_t count) override {
    constexpr std::int64_t chunk = 1'000'000; // ids per statement (each its own transaction)
    auto now = utc_text(unix_now_ms());
    for (std::int64_t first = 1; first <= count; first += chunk) {
      params p;
      p.add(std::to_string(first));
      p.add(std::to_string(std::min(count, first + chunk - 1)));
      p.add(now);
      auto done = with_retry([&] { return db_.exec_prepared(stmt::seed, p); });
      if (!done)
        return storage_error("seeding tasks failed: " + reason_of(done.error()));
    }
    return caf::none;
  }

  caf::expected<stored_task> find(std::int64_t id) override {
    params p;
    p.add(std::to_string(id));
    auto found = with_retry([&] { return db_.exec_prepared(stmt::find, p); });
    if (!found)
      return storage_error("task lookup failed: " + reason_of(found.error()));
    auto* r = found->get();
    if (PQntuples(r) == 0)
      return task_missing(stage::validate, id);
    stored_task t;
    t.id = id;
    t.type = PQgetvalue(r, 0, 0);
    t.summary = PQgetvalue(r, 0, 1);
    t.version = std::stoll(PQgetvalue(r, 0, 2));
    t.updated_at = PQgetvalue(r, 0, 3);
    return t;
  }

  caf::expected<store_counts> counts() override {
    auto found = with_retry([&] { return db_.exec_prepared(stmt::counts, {}); });
    if (!found)
      return storage_error("counting rows failed: " + reason_of(found.error()));
    auto* r = found->get();
    auto at = [&](int col) { return static_cast<std::uint64_t>(std::stoull(PQgetvalue(r, 0, col))); };
    return store_counts{at(0), at(1), at(2), at(3)};
  }

  caf::expected<std::uint64_t> last_batch() override {
    auto found = with_retry([&] { return db_.exec_prepared(stmt::last_batch, {}); });
    if (!found)
      return storage_error("reading the last batch number failed: " + reason_of(found.error()));
    std::uint64_t last = 0;
    auto* r = found->get();
    if (!PQgetisnull(r, 0, 0) && !parse_batch_id(PQgetvalue(r, 0, 0), last))
      return storage_error(std::string{"the store holds a batch id taskpipe did not write: "}
                           + PQgetvalue(r, 0, 0));
    return last;
  }

  void begin() override {
    if (in_group_)
      return;
    in_group_ = true;
    txn_open_ = false;
    failure_ = caf::none;
    now_ = utc_text(unix_now_ms());
  }

  void apply_chunk(stage where, const std::vector<task_envelope>& tasks,
                   std::vector<caf::error>& results) override {
    chunk_work work{where, tasks, std::vector<caf::error>(tasks.size())};
    if (!in_group_) {
      run_group({&work, 1}); // a lone chunk is a group of its own
    } else if (failure_) {
      fail_remaining({&work, 1}, reason_of(failure_), false);
    } else {
      // Within a begin()/commit() group: the chunk's statements now, in the open transaction.
      auto rounds = make_rounds({&work, 1}, now_);
      if (!rounds.empty()) {
        std::string why;
        if (send_and_read(rounds, !txn_open_, false, {&work, 1}, why) == outcome::committed) {
          txn_open_ = true;
        } else {
          failure_ = storage_error(why);
          fail_remaining({&work, 1}, why, false);
        }
      }
    }
    results = std::move(work.results);
  }

  caf::error commit() override {
    if (!in_group_)
      return caf::none;
    in_group_ = false;
    if (failure_) {
      roll_back();
      return std::exchange(failure_, caf::none);
    }
    if (!txn_open_)
      return caf::none;
    txn_open_ = false;
    auto done = db_.exec("COMMIT");
    if (!done)
      return storage_error(reason_of(done.error()));
    return caf::none;
  }

  // The batch journal (journal.*) and the batch numbers every front on the database shares.
  bool numbers_batches() const override {
    return true;
  }

  caf::error number_batches(std::vector<journaled_batch>& batches) override {
    return postgres::number_batches(db_, batches);
  }

  caf::error journal(const std::vector<journaled_batch>& batches) override {
    return postgres::journal(db_, batches, front_, expired_before_ms());
  }

  caf::error record_outcomes(const std::vector<batch_outcome>& outcomes) override {
    return postgres::record_outcomes(db_, outcomes);
  }

  caf::expected<resumable_batches> unfinished_batches() override {
    return postgres::unfinished_batches(db_, front_);
  }

  caf::expected<batch_report> finished_report(std::uint64_t batch) override {
    return postgres::finished_report(db_, batch, expired_before_ms());
  }

  caf::expected<key_owner> find_idempotency_key(const std::string& key) override {
    return postgres::find_idempotency_key(db_, key, expired_before_ms());
  }

  caf::expected<failure_page> failures_after(std::uint64_t batch, std::int64_t after,
                                             std::size_t limit) override {
    return postgres::failures_after(db_, batch, after, limit, expired_before_ms());
  }

  caf::expected<bool> purge_expired(std::size_t max_rows) override {
    return postgres::purge_expired(db_, max_rows, expired_before_ms());
  }

  void run_group(std::span<chunk_work> group) override {
    for (auto& work : group)
      work.results.assign(work.tasks.size(), caf::none);
    if (in_group_) { // joins the open group
      for (auto& work : group)
        apply_chunk(work.where, work.tasks, work.results);
      return;
    }
    auto rounds = make_rounds(group, utc_text(unix_now_ms()));
    if (rounds.empty())
      return;
    std::string why;
    bool in_doubt = false;
    for (int attempt = 0; attempt < 2; ++attempt) {
      switch (send_and_read(rounds, true, true, group, why)) {
        case outcome::committed:
          return;
        case outcome::unknown:
          in_doubt = true;
          break;
        case outcome::failed:
          break;
      }
      if (db_.ok() && !raced_)
        break; // the server refused it: running it again would fail alike
    }
    fail_remaining(group, why, in_doubt);
  }

private:
  /// Sends `rounds` as one pipeline (with BEGIN first and COMMIT last when asked) and reads the
  /// answers; on success fills the chunks' results. `why` says what went wrong otherwise.
  outcome send_and_read(const std::vector<round>& rounds, bool with_begin, bool with_commit,
                        std::span<chunk_work> group, std::string& why) {
    raced_ = false;
    if (auto err = with_begin ? db_.ensure() : caf::none) {
      why = reason_of(err);
      return outcome::failed;
    }
    if (auto err = send_all(rounds, with_begin, with_commit)) {
      why = reason_of(err);
      roll_back_or_close();
      return outcome::failed; // without its COMMIT the transaction cannot have committed
    }
    std::vector<connection::answer> answers;
    auto broken = db_.finish_pipeline(answers);
    std::size_t first_round = with_begin ? 1 : 0;
    std::size_t end = first_round;
    for (const auto& r : rounds)
      end += r.queries();
    bool done = with_commit ? answers.size() > end && answers[end].ok
                            : !broken && std::all_of(answers.begin(), answers.end(),
                                                     [](const auto& a) { return a.ok; });
    if (done) {
      std::size_t at = first_round;
      for (const auto& r : rounds) {
        at += r.queries();
        apply_answer(r, answers[at - 1].res.get(), group[r.work]);
      }
      return outcome::committed;
    }
    // The first statement the server refused, if any: before COMMIT, nothing was committed.
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].ok || !answers[i].res)
        continue;
      why = answers[i].error;
      // unique_violation: another connection inserted a row of this group meanwhile (schema.cpp);
      // nothing of the group committed, and run again it finds that row.
      raced_ = answers[i].sqlstate == "23505";
      bool before_commit = !with_commit || i < end;
      roll_back_or_close();
      return before_commit || !broken ? outcome::failed : outcome::unknown;
    }
    why = broken ? reason_of(broken) : "the transaction was not committed";
    roll_back_or_close();
    return broken ? outcome::unknown : outcome::failed;
  }

  caf::error send_all(const std::vector<round>& rounds, bool with_begin, bool with_commit) {
    if (auto err = db_.begin_pipeline())
      return err;
    if (with_begin)
      if (auto err = db_.send_text("BEGIN"))
        return err;
    for (const auto& r : rounds) {
      if (r.lock_statement)
        if (auto err = db_.send_prepared(r.lock_statement, r.lock_params))
          return err;
      if (auto err = db_.send_prepared(r.statement, r.p))
        return err;
    }
    if (with_commit)
      if (auto err = db_.send_text("COMMIT"))
        return err;
    return caf::none;
  }

  /// After a failure: rolls back an aborted transaction, or drops a connection in an unknown
  /// state (the next group connects again).
  void roll_back_or_close() {
    txn_open_ = false;
    if (!db_.ok())
      return;
    if (PQpipelineStatus(db_.get()) != PQ_PIPELINE_OFF) {
      std::vector<connection::answer> ignored;
      if (db_.finish_pipeline(ignored))
        return;
    }
    roll_back();
  }

  void roll_back() {
    txn_open_ = false;
    if (db_.ok() && PQtransactionStatus(db_.get()) != PQTRANS_IDLE)
      if (!db_.exec("ROLLBACK"))
        db_.connect(); // (a failed rollback leaves the connection unusable; reconnecting ends it)
  }

  /// Every task of `group` without a result fails storage_error.
  static void fail_remaining(std::span<chunk_work> group, const std::string& why, bool in_doubt) {
    for (auto& work : group) {
      std::string reason = fmt::format("{} commit failed: {}", to_string(work.where), why);
      if (work.where == stage::notify)
        reason += " (the update was applied)";
      else if (work.where == stage::update && in_doubt)
        reason += " (the commit's outcome is unknown: the update may have been applied)";
      for (auto& result : work.results)
        if (!result)
          result = storage_error(reason);
    }
  }

  /// A read (or an idempotent write) on the connection, connecting first when needed and once
  /// more when the connection broke under it.
  template <class F>
  caf::expected<result> with_retry(F&& f) {
    caf::expected<result> r{caf::error{}};
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (auto err = db_.ensure())
        return err;
      r = f();
      if (r || db_.ok())
        break;
    }
    return r;
  }

  /// This store's front number (journal.hpp: whose batches are whose): random, 62 bits.
  static std::int64_t new_front() {
    std::random_device rd;
    auto x = (std::uint64_t{rd()} << 32 | rd()) & ((std::uint64_t{1} << 62) - 1);
    return static_cast<std::int64_t>(x == 0 ? 1 : x);
  }

  connection db_;
  std::int64_t front_;
  bool in_group_ = false; ///< between begin() and commit()
  bool txn_open_ = false; ///< BEGIN was sent in this group
  caf::error failure_;    ///< why this group cannot commit
  bool raced_ = false;    ///< the last failure was another writer's row (unique_violation)
  std::string now_;       ///< the group's timestamp
};

} // namespace

caf::expected<std::unique_ptr<task_store>> open_postgres_store(const store_options& opts) {
  auto store = std::make_unique<postgres_store>(opts.location);
  if (auto err = store->open())
    return err;
  return std::unique_ptr<task_store>{std::move(store)};
}

std::string describe_postgres_target(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* given = PQconninfoParse(conninfo.c_str(), &error);
  if (!given) {
    std::string why = one_line(error ? error : "cannot parse it");
    PQfreemem(error);
    return "(invalid conninfo: " + why + ")";
  }
  PQconninfoOption* defaults = PQconndefaults();
  auto value = [&](const char* key) {
    for (auto* o = given; o && o->keyword; ++o)
      if (std::string_view{o->keyword} == key && o->val && *o->val)
        return std::string{o->val};
    for (auto* o = defaults; o && o->keyword; ++o)
      if (std::string_view{o->keyword} == key && o->val && *o->val)
        return std::string{o->val};
    return std::string{};
  };
  auto host = value("host");
  auto user = value("user");
  auto db = value("dbname");
  auto text = fmt::format("{}@{}:{}/{}", user, host.empty() ? "localhost" : host,
                          value("port").empty() ? "5432" : value("port"), db.empty() ? user : db);
  PQconninfoFree(given);
  PQconninfoFree(defaults);
  return text;
}

} // namespace taskpipe
