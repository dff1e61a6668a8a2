// The SQLite store's connection and the small tools every statement uses.
#pragma once

#include "store/task_store.hpp"

#include <caf/error.hpp>
#include <caf/optional.hpp>

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

namespace taskpipe::sqlite {

struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept {
    sqlite3_finalize(s);
  }
};

/// A prepared statement, finalized when it goes.
using statement = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

/// Resets a statement when leaving scope, whatever happened, so that it releases its locks and can
/// run again. Bindings stay but are always rebound before the next step.
class reset_on_exit {
public:
  explicit reset_on_exit(sqlite3_stmt* s) noexcept : s_(s) {
  }
  reset_on_exit(const reset_on_exit&) = delete;
  reset_on_exit& operator=(const reset_on_exit&) = delete;
  ~reset_on_exit() {
    sqlite3_reset(s_);
  }

private:
  sqlite3_stmt* s_;
};

/// Binds a text without copying it: it must live until the statement is reset.
void bind_text(sqlite3_stmt* s, int idx, std::string_view text);

/// Binds the text, or NULL for none.
void bind_optional(sqlite3_stmt* s, int idx, const caf::optional<std::string>& text);

/// A text column; "" for NULL.
std::string column_text(sqlite3_stmt* s, int col);

/// The store's connection to its file, with the store's settings (WAL, busy timeout, ...).
class connection {
public:
  /// Opens (or creates) `opts.location`; the error names the file and SQLite's reason.
  caf::error open(const store_options& opts);

  sqlite3* get() const noexcept {
    return db_.get();
  }

  /// SQLite's message for the last failed call on this connection.
  std::string errmsg() const;

  /// Whether no transaction is open (SQLite's autocommit mode).
  bool autocommit() const noexcept {
    return sqlite3_get_autocommit(db_.get()) != 0;
  }

  const std::string& path() const noexcept {
    return path_;
  }

  /// Runs SQL without results; the error names the file.
  caf::error exec(const char* sql);

  /// sqlite3_step; every statement of the store runs through here so that no failure goes
  /// unseen: the message of the last failed step stays in last_error().
  int step(sqlite3_stmt* s);

  /// Runs a statement without parameters once and resets it; returns the step's code.
  int step_once(sqlite3_stmt* s);

  /// SQLite's message of the last failed step ("" if none failed since clear_last_error()).
  const std::string& last_error() const noexcept {
    return last_error_;
  }

  void clear_last_error() {
    last_error_.clear();
  }

  /// Prepares a statement kept for the life of the store. A failure is remembered (the first one
  /// is open_error()) and yields null: the store is then not opened.
  statement prepare(const char* sql);

  /// Prepares a statement; null if SQLite refuses it (the caller has another way).
  statement try_prepare(const std::string& sql);

  /// The first failure of open(), exec() or prepare(), naming the file; none if there was none.
  const caf::error& open_error() const noexcept {
    return open_error_;
  }

private:
  struct closer {
    void operator()(sqlite3* db) const noexcept {
      sqlite3_close_v2(db);
    }
  };

  caf::error fail_open(const std::string& why);

  std::string path_;
  std::unique_ptr<sqlite3, closer> db_;
  caf::error open_error_;
  std::string last_error_;
};

} // namespace taskpipe::sqlite
