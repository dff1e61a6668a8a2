// The in-process task store: SQLite's behaviour (see sqlite_store.cpp) without a file.
//
// Tasks live in a hash map by id. The per-(batch, task) rows of audit, applied_updates and outbox
// are kept as keys in flat open-addressing tables: they make retries no-ops and counts() match
// what SQLite would report. To keep 1M+ tasks x 3 row kinds small, a row keeps only its key
// (applied_updates also the version it produced); nothing in the interface reads the audit values
// or the outbox message back, so they are not stored.
// begin()/commit() only fix the group's timestamp: nothing in memory can fail to commit.
#include "actors/store/task_store.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace taskpipe {

namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string utc_text(std::int64_t ms) {
  auto secs = ms / 1000;
  auto milli = static_cast<int>(ms % 1000);
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

struct no_value {};

/// A hash set of (batch, task id) keys with an optional small value per key; linear probing in one
/// flat array, at most 70% full.
template <class Value>
class row_table {
public:
  struct slot {
    std::uint64_t batch;
    std::int64_t id;
    [[no_unique_address]] Value value;
  };

  std::size_t size() const noexcept {
    return size_;
  }

  /// The slot holding the key, or the empty slot where it belongs (the table has room for it).
  slot& locate(std::uint64_t batch, std::int64_t id) {
    if ((size_ + 1) * 10 > slots_.size() * 7)
      grow();
    auto mask = slots_.size() - 1;
    for (auto i = hash(batch, id) & mask;; i = (i + 1) & mask) {
      auto& s = slots_[i];
      if ((s.batch == batch && s.id == id) || is_empty(s))
        return s;
    }
  }

  static bool is_empty(const slot& s) noexcept {
    return s.batch == empty_batch && s.id == empty_id;
  }

  /// Fills an empty slot that locate() returned.
  void fill(slot& s, std::uint64_t batch, std::int64_t id, Value value = {}) {
    s.batch = batch;
    s.id = id;
    s.value = value;
    ++size_;
  }

private:
  // No task has id INT64_MIN (seed creates ids from 1), so no row has this key.
  static constexpr std::uint64_t empty_batch = std::numeric_limits<std::uint64_t>::max();
  static constexpr std::int64_t empty_id = std::numeric_limits<std::int64_t>::min();

  static std::size_t hash(std::uint64_t batch, std::int64_t id) noexcept {
    auto h = batch * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(id);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return static_cast<std::size_t>(h);
  }

  void grow() {
    std::vector<slot> old(slots_.empty() ? 1024 : slots_.size() * 2,
                          slot{empty_batch, empty_id, Value{}});
    old.swap(slots_);
    auto mask = slots_.size() - 1;
    for (auto& s : old) {
      if (is_empty(s))
        continue;
      auto i = hash(s.batch, s.id) & mask;
      while (!is_empty(slots_[i]))
        i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<slot> slots_;
  std::size_t size_ = 0;
};

class memory_store final : public task_store {
public:
  memory_store() {
    intern("Story");
  }

  void seed(std::int64_t count) override {
    if (count <= 0)
      return;
    auto now = now_ms();
    auto story = intern("Story");
    if (tasks_.size() < static_cast<std::size_t>(count))
      tasks_.reserve(static_cast<std::size_t>(count));
    for (std::int64_t id = 1; id <= count; ++id) {
      auto [it, added] = tasks_.try_emplace(id);
      if (added)
        it->second = task_row{"Task " + std::to_string(id), 1, now, story};
    }
  }

  caf::optional<stored_task> find(std::int64_t id) override {
    auto i = tasks_.find(id);
    if (i == tasks_.end())
      return caf::none;
    const auto& row = i->second;
    return stored_task{id, type_names_[row.type], row.summary, row.version,
                       utc_text(row.updated_ms)};
  }

  store_counts counts() override {
    return {tasks_.size(), audit_.size(), applied_.size(), outbox_.size()};
  }

  void begin() override {
    if (in_group_)
      return;
    in_group_ = true;
    now_ms_ = now_ms();
  }

  std::string commit() override {
    in_group_ = false;
    return {};
  }

  store_result apply(stage where, const task_envelope& t) override {
    auto id = t.update.id;
    switch (where) {
      case stage::validate:
        if (tasks_.count(id) == 0)
          return {store_result::kind::not_found, "task " + std::to_string(id) + " does not exist"};
        return store_result::ok();
      case stage::audit: {
        auto& row = audit_.locate(t.batch, id);
        if (!audit_.is_empty(row))
          return store_result::ok(); // audited before
        if (tasks_.count(id) == 0)
          return vanished(id);
        audit_.fill(row, t.batch, id);
        return store_result::ok();
      }
      case stage::update: {
        auto& row = applied_.locate(t.batch, id);
        if (!applied_.is_empty(row))
          return store_result::ok(); // applied before
        auto i = tasks_.find(id);
        if (i == tasks_.end())
          return vanished(id);
        auto& task = i->second;
        if (t.update.type)
          task.type = intern(*t.update.type);
        if (t.update.summary)
          task.summary = *t.update.summary;
        task.version += 1;
        task.updated_ms = timestamp();
        applied_.fill(row, t.batch, id, task.version);
        return store_result::ok();
      }
      case stage::notify: {
        auto& row = outbox_.locate(t.batch, id);
        if (!outbox_.is_empty(row))
          return store_result::ok(); // notified before
        if (tasks_.count(id) == 0)
          return vanished(id);
        outbox_.fill(row, t.batch, id);
        return store_result::ok();
      }
      default:
        return store_result::ok(); // no store work between stages
    }
  }

private:
  struct task_row {
    std::string summary;
    std::int64_t version = 0;
    std::int64_t updated_ms = 0;
    std::uint32_t type = 0; ///< index into type_names_
  };

  static store_result vanished(std::int64_t id) {
    return {store_result::kind::storage_error,
            "task " + std::to_string(id) + " does not exist any more"};
  }

  std::int64_t timestamp() const {
    return in_group_ ? now_ms_ : now_ms();
  }

  /// Type names repeat (Validate allows four): each row keeps an index instead of a string.
  std::uint32_t intern(const std::string& name) {
    for (std::uint32_t i = 0; i < type_names_.size() && i < 8; ++i)
      if (type_names_[i] == name)
        return i;
    auto next = static_cast<std::uint32_t>(type_names_.size());
    auto [it, added] = type_index_.try_emplace(name, next);
    if (added)
      type_names_.push_back(name);
    return it->second;
  }

  std::unordered_map<std::int64_t, task_row> tasks_;
  std::vector<std::string> type_names_;
  std::unordered_map<std::string, std::uint32_t> type_index_;
  row_table<no_value> audit_;
  row_table<std::int64_t> applied_;
  row_table<no_value> outbox_;
  bool in_group_ = false;
  std::int64_t now_ms_ = 0;
};

} // namespace

std::unique_ptr<task_store> make_memory_store() {
  return std::make_unique<memory_store>();
}

} // namespace taskpipe
