#include "store/sqlite/transaction.hpp"

namespace taskpipe::sqlite {

void transaction::begin() {
  if (in_group_)
    return; // already grouping: the calls join the open group
  in_group_ = true;
  failure_ = caf::none;
  db_.clear_last_error();
  now_ = utc_text(unix_now_ms());
  // A transaction still open here is one whose ROLLBACK failed: never build on it.
  if (!db_.autocommit() && db_.step_once(st_.rollback.get()) != SQLITE_DONE) {
    failure_ = storage_error("rolling back an earlier transaction failed: " + db_.errmsg());
    return;
  }
  if (db_.step_once(st_.begin.get()) != SQLITE_DONE)
    failure_ = storage_error("begin transaction failed: " + db_.errmsg());
}

const caf::error& transaction::check() {
  if (!failure_ && in_group_ && db_.autocommit()) {
    const auto& why = db_.last_error();
    failure_ = storage_error(why.empty() ? std::string{"the transaction was rolled back by SQLite"}
                                         : "the transaction was rolled back: " + why);
  }
  return failure_;
}

caf::error transaction::commit() {
  if (!in_group_)
    return caf::none;
  auto err = check();
  in_group_ = false;
  failure_ = caf::none;
  if (!err && db_.step_once(st_.commit.get()) != SQLITE_DONE)
    err = storage_error("commit failed: " + db_.errmsg());
  // A failed COMMIT may leave the transaction open: roll it back (begin() retries if this fails).
  if (err && !db_.autocommit())
    db_.step_once(st_.rollback.get());
  return err;
}

void transaction::fail(caf::error err) {
  if (!failure_)
    failure_ = std::move(err);
}

void transaction::note(const caf::error& result) {
  if (result && !failure_ && db_.autocommit())
    failure_ = storage_error("the transaction was rolled back: " + reason_of(result));
}

} // namespace taskpipe::sqlite
