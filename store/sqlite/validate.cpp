// Validate's store work: does the task exist? One range scan answers for a chunk of close ids.
#include "store/sqlite/writers.hpp"

namespace taskpipe::sqlite {

int task_exists(connection& db, statements& st, std::int64_t id) {
  auto* s = st.task_exists.get();
  reset_on_exit guard{s};
  sqlite3_bind_int64(s, 1, id);
  auto rc = db.step(s);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

caf::error task_not_found(std::int64_t id) {
  return make_store_error(failure_code::not_found,
                          "task " + std::to_string(id) + " does not exist");
}

caf::error validator::check(std::int64_t id) {
  switch (task_exists(p_.db, p_.st, id)) {
    case 1:
      return caf::none;
    case 0:
      return task_not_found(id);
    default:
      return storage_error("task lookup failed: " + p_.db.errmsg());
  }
}

void validator::check_chunk(const std::vector<task_envelope>& tasks,
                            std::vector<caf::error>& results) {
  bool scanned = p_.snapshot.load(tasks, scan::ids);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto id = tasks[i].update.id;
    if (!scanned)
      results[i] = check(id);
    else if (!p_.snapshot.find(id))
      results[i] = task_not_found(id);
  }
}

} // namespace taskpipe::sqlite
