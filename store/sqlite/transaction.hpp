// The SQLite store's transaction group: everything between begin() and commit().
#pragma once

#include "store/sqlite/schema.hpp"

#include <string>

namespace taskpipe::sqlite {

/// One transaction over a begin()/commit() group, the group's timestamp, and the error that fails
/// the group's remaining writes once it can no longer commit.
class transaction {
public:
  transaction(connection& db, statements& st) : db_(db), st_(st) {
  }

  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  /// Whether a group is open.
  bool in_group() const noexcept {
    return in_group_;
  }

  /// Opens a group (BEGIN IMMEDIATE); while one is open, does nothing.
  void begin();

  /// Ends the group: none if it committed, else why not (its writes are then rolled back and
  /// every task of the group must fail). None when no group is open.
  caf::error commit();

  /// The group's timestamp (UTC ISO 8601), taken at begin().
  const std::string& now() const noexcept {
    return now_;
  }

  /// None while the group's transaction is open and can commit, else why not: every later write
  /// of the group fails with it, rather than run outside the transaction. Notices when SQLite
  /// rolled the transaction back on its own (I/O error, out of memory; also during a read).
  const caf::error& check();

  /// The group can no longer commit because of `err` (the first reason is kept).
  void fail(caf::error err);

  /// After a write that failed with `result`: if SQLite rolled the whole transaction back (disk
  /// full, I/O errors, RAISE(ROLLBACK)), the group fails with "the transaction was rolled back".
  void note(const caf::error& result);

private:
  connection& db_;
  statements& st_;
  bool in_group_ = false;
  caf::error failure_;
  std::string now_;
};

} // namespace taskpipe::sqlite
