// WAL checkpoints off the store's thread.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace taskpipe::sqlite {

/// Replaces SQLite's automatic checkpoint (same 1000-frame threshold) by one on a thread and
/// connection of its own, so that the store's thread only appends to the WAL. PASSIVE checkpoints
/// never block the writer. If no second connection can be opened, or the WAL still grows past 16x
/// the threshold, the store's connection checkpoints inline as SQLite would. A checkpoint is
/// requested each time the WAL grew by the threshold, not after every commit past it.
class checkpointer {
public:
  /// Installs the WAL hook on `db` (the store's connection, which must outlive this object).
  checkpointer(sqlite3* db, const std::string& path);

  checkpointer(const checkpointer&) = delete;
  checkpointer& operator=(const checkpointer&) = delete;

  /// Stops the thread and closes its connection (before the store's, which then cleans up the WAL).
  ~checkpointer();

private:
  /// WAL frames after which a checkpoint is due (SQLite's default), and after which the store
  /// checkpoints itself because the thread does not keep up.
  static constexpr int checkpoint_frames = 1000;
  static constexpr int inline_checkpoint_frames = 16 * checkpoint_frames;

  /// SQLite's WAL hook: runs after each commit with the number of frames in the WAL.
  static int on_wal_commit(void* arg, sqlite3* db, const char*, int frames);

  void request();
  void run();

  sqlite3* writer_;
  /// The WAL's frame count at which the next checkpoint is due (written by the hook only, on the
  /// store's thread). The count falls back only when SQLite restarts the WAL, which needs a
  /// checkpoint that caught up while no transaction ran; until then it stays above the threshold,
  /// and a checkpoint per commit would add two fsyncs to every commit.
  int next_due_ = checkpoint_frames;
  int last_frames_ = 0;
  sqlite3* own_ = nullptr; ///< the thread's connection; null: checkpoint inline
  std::mutex mx_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stop_ = false;
  std::thread thread_; // last: starts once the rest is ready
};

} // namespace taskpipe::sqlite
