// How a group of chunks becomes statements: each chunk's stage work is one prepared statement
// over arrays (a "round"), so a group is one pipeline (BEGIN, one statement per chunk, COMMIT:
// one round trip), never one statement per task.
#pragma once

#include "store/postgres/connection.hpp"
#include "store/task_store.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace taskpipe::postgres {

/// One statement of a group: a chunk's tasks (or, for update, those of them with distinct ids:
/// a chunk that repeats an id needs one round per repetition, in order).
struct round {
  std::size_t work = 0;               ///< index into the group
  std::vector<std::size_t> positions; ///< the chunk's tasks this statement does
  const char* statement = nullptr;    ///< stmt::...
  params p;
  /// Update: stmt::update_lock with these ids, sent right before (its own snapshot).
  const char* lock_statement = nullptr;
  params lock_params;

  /// Queries it sends (its answer is the last one's).
  std::size_t queries() const {
    return lock_statement ? 2 : 1;
  }
};

/// The rounds of a group's chunks, in order; `now` is the group's timestamp. Chunks of stages
/// without store work (pipeline) or without tasks have none.
std::vector<round> make_rounds(std::span<const chunk_work> group, const std::string& now);

/// Fills results from a round's answer: its rows are the task ids whose work cannot be done.
void apply_answer(const round& r, const PGresult* answer, chunk_work& work);

/// "task <id> does not exist" (not_found) for validate, "task <id> does not exist any more"
/// (storage_error) for the writing stages.
caf::error task_missing(stage where, std::int64_t id);

} // namespace taskpipe::postgres
