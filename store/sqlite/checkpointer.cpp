#include "store/sqlite/checkpointer.hpp"

namespace taskpipe::sqlite {

checkpointer::checkpointer(sqlite3* db, const std::string& path) : writer_(db) {
  if (sqlite3_open_v2(path.c_str(), &own_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr)
      == SQLITE_OK) {
    sqlite3_busy_timeout(own_, 5000);
    sqlite3_exec(own_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    thread_ = std::thread{[this] { run(); }};
  } else {
    sqlite3_close_v2(own_);
    own_ = nullptr;
  }
  sqlite3_wal_hook(writer_, &checkpointer::on_wal_commit, this);
}

checkpointer::~checkpointer() {
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  if (!own_)
    return;
  {
    std::lock_guard<std::mutex> guard{mx_};
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  sqlite3_close_v2(own_);
}

int checkpointer::on_wal_commit(void* arg, sqlite3* db, const char*, int frames) {
  auto* self = static_cast<checkpointer*>(arg);
  if (frames < self->last_frames_) // the WAL restarted
    self->next_due_ = checkpoint_frames;
  self->last_frames_ = frames;
  if (frames < self->next_due_)
    return SQLITE_OK;
  self->next_due_ = frames + checkpoint_frames;
  if (self->own_ && frames < inline_checkpoint_frames)
    self->request();
  else
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  return SQLITE_OK;
}

void checkpointer::request() {
  {
    std::lock_guard<std::mutex> guard{mx_};
    if (requested_)
      return;
    requested_ = true;
  }
  cv_.notify_one();
}

void checkpointer::run() {
  std::unique_lock<std::mutex> lock{mx_};
  for (;;) {
    cv_.wait(lock, [this] { return requested_ || stop_; });
    if (stop_)
      return;
    requested_ = false;
    lock.unlock();
    sqlite3_wal_checkpoint_v2(own_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

} // namespace taskpipe::sqlite
