#include "store/sqlite/transaction.hpp"

namespace taskpipe::sqlite {

void transaction::begin() {
  if (in_group_)
    return; // already grouping: the calls join the open group
  in_group_ = true;
  failure_ = caf::none;
  now_ = utc_text(unix_now_ms());
  if (!db_.autocommit())
    return; // a transaction is already open on this connection: join it
  if (step_plain(st_.begin.get()) != SQLITE_DONE)
    failure_ = storage_error("begin transaction failed: " + db_.errmsg());
}

caf::error transaction::commit() {
  if (!in_group_)
    return caf::none;
  in_group_ = false;
  auto err = std::move(failure_);
  failure_ = caf::none;
  if (!err && !db_.autocommit() && step_plain(st_.commit.get()) != SQLITE_DONE)
    err = storage_error("commit failed: " + db_.errmsg());
  if (err && !db_.autocommit())
    step_plain(st_.rollback.get());
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
