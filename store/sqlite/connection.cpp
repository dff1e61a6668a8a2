#include "store/sqlite/connection.hpp"

namespace taskpipe::sqlite {

namespace {

/// SQLite keeps global memory statistics behind a global mutex on every allocation; nothing here
/// reads them. Only possible before SQLite initializes (else SQLITE_MISUSE, harmlessly ignored).
void disable_memory_statistics() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void) done;
}

} // namespace

void bind_text(sqlite3_stmt* s, int idx, std::string_view text) {
  // A null pointer would bind NULL: an empty text must stay text.
  sqlite3_bind_text(s, idx, text.data() ? text.data() : "", static_cast<int>(text.size()),
                    SQLITE_STATIC);
}

void bind_optional(sqlite3_stmt* s, int idx, const caf::optional<std::string>& text) {
  if (text)
    bind_text(s, idx, *text);
  else
    sqlite3_bind_null(s, idx);
}

std::string column_text(sqlite3_stmt* s, int col) {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string{p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))}
           : std::string{};
}

caf::error connection::open(const store_options& opts) {
  disable_memory_statistics();
  path_ = opts.location;
  sqlite3* raw = nullptr;
  auto rc = sqlite3_open_v2(path_.c_str(), &raw,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK)
    return fail_open(db_ ? errmsg() : sqlite3_errstr(rc));
  // More lookaside slots: most of a statement's small allocations then avoid malloc.
  sqlite3_db_config(db_.get(), SQLITE_DBCONFIG_LOOKASIDE, nullptr, 512, 1024);
  sqlite3_busy_timeout(db_.get(), static_cast<int>(opts.busy_timeout.count()));
  // synchronous=FULL in WAL mode: every commit is fsynced before COMMIT returns, so nothing is
  // answered before it is on disk; NORMAL leaves the fsync to checkpoints (a power loss or OS
  // crash may lose the last commits, a crash of the process does not).
  auto* sync = opts.sync == durability::full ? "PRAGMA synchronous=FULL"
                                             : "PRAGMA synchronous=NORMAL";
  for (const char* pragma : {"PRAGMA journal_mode=WAL", sync, "PRAGMA foreign_keys=OFF",
                             "PRAGMA cache_size=-16384", // KiB
                             "PRAGMA temp_store=MEMORY",
                             // Debian builds SQLite with SECURE_DELETE, which zeroes every freed
                             // page and so writes a finished batch's journal blob a second time
                             // (to the WAL and again at checkpoint). FAST still zeroes deleted
                             // rows inside the pages a change writes anyway, never extra pages.
                             "PRAGMA secure_delete=FAST"})
    if (auto err = exec(pragma))
      return err;
  return caf::none;
}

int connection::step(sqlite3_stmt* s) {
  auto rc = sqlite3_step(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    last_error_ = sqlite3_errmsg(db_.get());
  return rc;
}

int connection::step_once(sqlite3_stmt* s) {
  reset_on_exit guard{s};
  return step(s);
}

std::string connection::errmsg() const {
  return sqlite3_errmsg(db_.get());
}

caf::error connection::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg) == SQLITE_OK)
    return caf::none;
  std::string why = msg ? msg : errmsg();
  sqlite3_free(msg);
  return fail_open(why);
}

statement connection::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr)
      != SQLITE_OK) {
    sqlite3_finalize(s);
    fail_open(errmsg() + " (in: " + sql + ")");
    return nullptr;
  }
  return statement{s};
}

statement connection::try_prepare(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr)
      != SQLITE_OK) {
    sqlite3_finalize(s);
    return nullptr;
  }
  return statement{s};
}

caf::error connection::fail_open(const std::string& why) {
  auto err = storage_error("cannot open the task store '" + path_ + "': " + why);
  if (!open_error_)
    open_error_ = err;
  return err;
}

} // namespace taskpipe::sqlite
